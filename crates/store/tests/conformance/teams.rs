//! Teams: their members and roles, and what they give on the request path.

use crate::fixtures::*;
use latchkey_store::{NewTeam, Team, TeamChange, TeamId, TeamProjectRole, TeamRoles};

on_both_backends! {
    teams_lifecycle => teams_lifecycle_sqlite, teams_lifecycle_postgres;
    team_members_are_accepted_members => team_members_are_accepted_members_sqlite, team_members_are_accepted_members_postgres;
    team_project_roles => team_project_roles_sqlite, team_project_roles_postgres;
    teams_reach_the_request_path => teams_reach_the_request_path_sqlite, teams_reach_the_request_path_postgres;
    custom_role_held_by_a_team => custom_role_held_by_a_team_sqlite, custom_role_held_by_a_team_postgres;
}

pub(crate) async fn create_team(t: &TestDb, org: OrgId, name: &str, role: Option<RoleRef>) -> Team {
    let new = NewTeam {
        uuid: TeamId::random(),
        org_uuid: org,
        name: name.to_string(),
        role,
        now: now(),
    };
    t.create_team(&new, &ev(org, "team.created"))
        .await
        .expect("create_team");
    t.team(org, new.uuid).await.unwrap().expect("the new team")
}

async fn join(t: &TestDb, org: OrgId, team: TeamId, user: UserId) {
    t.add_team_member(org, team, user, now(), &ev(org, "team.member_added"))
        .await
        .expect("add_team_member");
}

async fn teams_lifecycle(t: TestDb) {
    let (org, _admin) = new_org(&t, "acme").await;
    let (other, _) = new_org(&t, "globex").await;
    let mut log = AuditLog::start(&t, org.uuid).await;
    let team = create_team(
        &t,
        org.uuid,
        "Platform",
        Some(RoleRef::System(Role::Editor)),
    )
    .await;
    log.expect(&t, "team.created").await;
    assert_eq!(team.name, "Platform");
    assert_eq!(team.role, Some(RoleRef::System(Role::Editor)));
    assert!(team.members.is_empty() && team.project_roles.is_empty());
    // Another organization's team is invisible there.
    assert_eq!(t.team(other.uuid, team.uuid).await.unwrap(), None);
    assert!(t.teams(other.uuid).await.unwrap().is_empty());
    // Names are unique per organization after case folding; elsewhere fine.
    let dup = NewTeam {
        uuid: TeamId::random(),
        org_uuid: org.uuid,
        name: "ＰＬＡＴＦＯＲＭ".into(),
        role: None,
        now: now(),
    };
    assert_err!(
        t.create_team(&dup, &ev(org.uuid, "team.created")).await,
        StoreError::Conflict(latchkey_store::Conflict::TeamName)
    );
    log.expect_none(&t).await;
    create_team(&t, other.uuid, "Platform", None).await;
    let ops = create_team(&t, org.uuid, "Ops", None).await;
    log.expect(&t, "team.created").await;
    assert_eq!(ops.role, None);
    let names: Vec<String> = t
        .teams(org.uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["Ops", "Platform"]);

    // Rename and change the role; a partial change keeps the rest.
    let later = now() + secs(5);
    t.update_team(
        org.uuid,
        team.uuid,
        &TeamChange {
            name: Some("Platform team".into()),
            role: Some(Some(RoleRef::System(Role::Viewer))),
        },
        later,
        &ev(org.uuid, "team.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "team.updated").await;
    let got = t.team(org.uuid, team.uuid).await.unwrap().unwrap();
    assert_eq!(
        (got.name.as_str(), got.role, got.updated_at, got.created_at),
        (
            "Platform team",
            Some(RoleRef::System(Role::Viewer)),
            later,
            team.created_at
        )
    );
    t.update_team(
        org.uuid,
        team.uuid,
        &TeamChange {
            name: None,
            role: Some(None),
        },
        later,
        &ev(org.uuid, "team.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "team.updated").await;
    let got = t.team(org.uuid, team.uuid).await.unwrap().unwrap();
    assert_eq!((got.name.as_str(), got.role), ("Platform team", None));
    // Renaming onto another team's name conflicts; another org's is not found.
    assert_err!(
        t.update_team(
            org.uuid,
            ops.uuid,
            &TeamChange {
                name: Some("platform TEAM".into()),
                role: None
            },
            later,
            &ev(org.uuid, "team.updated"),
        )
        .await,
        StoreError::Conflict(latchkey_store::Conflict::TeamName)
    );
    assert_err!(
        t.update_team(
            other.uuid,
            team.uuid,
            &TeamChange::default(),
            later,
            &ev(other.uuid, "team.updated")
        )
        .await,
        StoreError::NotFound
    );
    assert_err!(
        t.delete_team(other.uuid, team.uuid, &ev(other.uuid, "team.deleted"))
            .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;

    t.delete_team(org.uuid, team.uuid, &ev(org.uuid, "team.deleted"))
        .await
        .unwrap();
    log.expect(&t, "team.deleted").await;
    assert_eq!(t.team(org.uuid, team.uuid).await.unwrap(), None);
    assert_err!(
        t.delete_team(org.uuid, team.uuid, &ev(org.uuid, "team.deleted"))
            .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
}

async fn team_members_are_accepted_members(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let (other, other_admin) = new_org(&t, "globex").await;
    let bob = add_new_member(&t, org.uuid, "bob@acme.test", Role::Viewer).await;
    let (carol, carol_code) =
        invite_new_member(&t, org.uuid, "carol@acme.test", Role::Viewer).await;
    let team = create_team(&t, org.uuid, "Platform", None).await;
    let other_team = create_team(&t, other.uuid, "Theirs", None).await;
    let mut log = AuditLog::start(&t, org.uuid).await;

    join(&t, org.uuid, team.uuid, bob.uuid).await;
    log.expect(&t, "team.member_added").await;
    join(&t, org.uuid, team.uuid, admin.uuid).await;
    log.expect(&t, "team.member_added").await;
    // Twice changes nothing.
    join(&t, org.uuid, team.uuid, bob.uuid).await;
    log.expect(&t, "team.member_added").await;
    let got = t.team(org.uuid, team.uuid).await.unwrap().unwrap();
    assert_eq!(
        got.members.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([bob.uuid, admin.uuid])
    );
    // Only accepted members of the team's own organization.
    for (o, tm, u) in [
        (org.uuid, team.uuid, carol.uuid),
        (org.uuid, team.uuid, other_admin.uuid),
        (org.uuid, team.uuid, UserId::random()),
        (org.uuid, other_team.uuid, bob.uuid),
        (org.uuid, TeamId::random(), bob.uuid),
    ] {
        assert_err!(
            t.add_team_member(o, tm, u, now(), &ev(o, "team.member_added"))
                .await,
            StoreError::NotFound
        );
    }
    log.expect_none(&t).await;
    // Once carol accepts, she may join.
    accept(&t, &carol_code, &set_password("$argon2id$carol")).await;
    log.expect(&t, "member.joined").await;
    join(&t, org.uuid, team.uuid, carol.uuid).await;
    log.expect(&t, "team.member_added").await;

    // Leaving.
    t.remove_team_member(
        org.uuid,
        team.uuid,
        admin.uuid,
        &ev(org.uuid, "team.member_removed"),
    )
    .await
    .unwrap();
    log.expect(&t, "team.member_removed").await;
    assert_err!(
        t.remove_team_member(
            org.uuid,
            team.uuid,
            admin.uuid,
            &ev(org.uuid, "team.member_removed")
        )
        .await,
        StoreError::NotFound
    );
    assert_err!(
        t.remove_team_member(
            other.uuid,
            team.uuid,
            bob.uuid,
            &ev(other.uuid, "team.member_removed")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;

    // Removing a member from the organization removes their team memberships.
    t.remove_member(org.uuid, bob.uuid, now(), &ev(org.uuid, "member.removed"))
        .await
        .unwrap();
    log.expect(&t, "member.removed").await;
    let got = t.team(org.uuid, team.uuid).await.unwrap().unwrap();
    assert_eq!(got.members, [carol.uuid]);
    // Back in the organization, they are in no team until added again.
    add_existing_member(&t, org.uuid, bob.uuid, Role::Viewer).await;
    let got = t.team(org.uuid, team.uuid).await.unwrap().unwrap();
    assert_eq!(got.members, [carol.uuid]);
    // A deleted team takes its memberships along.
    t.delete_team(org.uuid, team.uuid, &ev(org.uuid, "team.deleted"))
        .await
        .unwrap();
    let rows = t
        .count(
            "SELECT COUNT(*) FROM team_members WHERE team_uuid = $1",
            team.uuid,
        )
        .await;
    assert_eq!(rows, 0);
}

async fn team_project_roles(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let (other, other_admin) = new_org(&t, "globex").await;
    let web = create_project(&t, org.uuid, "web", &admin).await;
    let api = create_project(&t, org.uuid, "api", &admin).await;
    let theirs = create_project(&t, other.uuid, "theirs", &other_admin).await;
    let team = create_team(&t, org.uuid, "Platform", None).await;
    let mut log = AuditLog::start(&t, org.uuid).await;
    let set = |project: ProjectId, role: RoleRef| {
        let t = t.clone();
        async move {
            t.set_team_project_role(
                org.uuid,
                team.uuid,
                project,
                role,
                now(),
                &ev(org.uuid, "team.project_access_granted"),
            )
            .await
        }
    };
    set(web.uuid, RoleRef::System(Role::Editor)).await.unwrap();
    log.expect(&t, "team.project_access_granted").await;
    set(api.uuid, RoleRef::System(Role::Viewer)).await.unwrap();
    log.expect(&t, "team.project_access_granted").await;
    // A second grant replaces the first.
    set(web.uuid, RoleRef::System(Role::Developer))
        .await
        .unwrap();
    log.expect(&t, "team.project_access_granted").await;
    let got = t.team(org.uuid, team.uuid).await.unwrap().unwrap();
    assert_eq!(
        got.project_roles
            .iter()
            .map(|r| (r.project_uuid, r.role))
            .collect::<BTreeMap<_, _>>(),
        BTreeMap::from([
            (web.uuid, RoleRef::System(Role::Developer)),
            (api.uuid, RoleRef::System(Role::Viewer)),
        ])
    );
    // Another organization's project or an unknown one: not found.
    assert_err!(
        set(theirs.uuid, RoleRef::System(Role::Viewer)).await,
        StoreError::NotFound
    );
    assert_err!(
        set(ProjectId::random(), RoleRef::System(Role::Viewer)).await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;

    t.remove_team_project_role(
        org.uuid,
        team.uuid,
        api.uuid,
        &ev(org.uuid, "team.project_access_revoked"),
    )
    .await
    .unwrap();
    log.expect(&t, "team.project_access_revoked").await;
    assert_err!(
        t.remove_team_project_role(
            org.uuid,
            team.uuid,
            api.uuid,
            &ev(org.uuid, "team.project_access_revoked")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    // A deleted project takes the team's role on it along.
    t.delete_project(org.uuid, web.uuid, &ev(org.uuid, "project.deleted"))
        .await
        .unwrap();
    let got = t.team(org.uuid, team.uuid).await.unwrap().unwrap();
    assert!(got.project_roles.is_empty());
    let _: Vec<TeamProjectRole> = got.project_roles;
}

async fn teams_reach_the_request_path(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let bob = add_new_member(&t, org.uuid, "bob@acme.test", Role::Viewer).await;
    let web = create_project(&t, org.uuid, "web", &admin).await;
    let hash = insert(&t, &pat(org.uuid, &bob, "laptop", now())).await;
    let session = new_session(&t, bob.uuid, org.uuid).await;
    // In no team: nothing from teams.
    assert_eq!(found(&t, &hash).await.owner_teams, TeamRoles::default());
    let editors = create_team(&t, org.uuid, "Editors", Some(RoleRef::System(Role::Editor))).await;
    let readers = create_team(&t, org.uuid, "Readers", None).await;
    join(&t, org.uuid, editors.uuid, bob.uuid).await;
    join(&t, org.uuid, readers.uuid, bob.uuid).await;
    t.set_team_project_role(
        org.uuid,
        readers.uuid,
        web.uuid,
        RoleRef::System(Role::Developer),
        now(),
        &ev(org.uuid, "team.project_access_granted"),
    )
    .await
    .unwrap();
    let want = TeamRoles {
        // A team without an organization role gives nothing there.
        org: vec![HeldRole::System(Role::Editor)],
        projects: vec![ProjectRoleRecord {
            project_uuid: web.uuid,
            role: HeldRole::System(Role::Developer),
        }],
    };
    assert_eq!(found(&t, &hash).await.owner_teams, want);
    assert_eq!(t.session(&session).await.unwrap().unwrap().teams, want);
    // An API key or a service account has no teams.
    let key = insert(
        &t,
        &org_credential(CredentialKind::ApiKey, org.uuid, &admin, Role::Viewer),
    )
    .await;
    assert_eq!(found(&t, &key).await.owner_teams, TeamRoles::default());
    // Left the team: gone at once.
    t.remove_team_member(
        org.uuid,
        editors.uuid,
        bob.uuid,
        &ev(org.uuid, "team.member_removed"),
    )
    .await
    .unwrap();
    assert_eq!(
        found(&t, &hash).await.owner_teams.org,
        Vec::<HeldRole>::new()
    );
    // Removed from the organization: no teams at all.
    t.remove_member(org.uuid, bob.uuid, now(), &ev(org.uuid, "member.removed"))
        .await
        .unwrap();
    let record = found(&t, &hash).await;
    assert_eq!(
        (record.membership, record.owner_teams),
        (None, TeamRoles::default())
    );
}

async fn custom_role_held_by_a_team(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let bob = add_new_member(&t, org.uuid, "bob@acme.test", Role::Member).await;
    let web = create_project(&t, org.uuid, "web", &admin).await;
    let role = create_custom_role(&t, org.uuid, "Auditors", &["audit:read"], &admin).await;
    let team = create_team(&t, org.uuid, "Audit", Some(RoleRef::Custom(role.uuid))).await;
    assert_eq!(team.role, Some(RoleRef::Custom(role.uuid)));
    join(&t, org.uuid, team.uuid, bob.uuid).await;
    let hash = insert(&t, &pat(org.uuid, &bob, "laptop", now())).await;
    let grant = CustomRoleGrant {
        uuid: role.uuid,
        name: "Auditors".into(),
        scopes: vec!["audit:read".into()],
    };
    assert_eq!(
        found(&t, &hash).await.owner_teams.org,
        [HeldRole::Custom(grant.clone())]
    );
    let mut log = AuditLog::start(&t, org.uuid).await;
    // In use as the team's role: not deleted.
    assert_err!(
        t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
            .await,
        StoreError::Conflict(latchkey_store::Conflict::CustomRoleInUse)
    );
    // Moved to a team project role: still in use.
    t.update_team(
        org.uuid,
        team.uuid,
        &TeamChange {
            name: None,
            role: Some(None),
        },
        now(),
        &ev(org.uuid, "team.updated"),
    )
    .await
    .unwrap();
    t.set_team_project_role(
        org.uuid,
        team.uuid,
        web.uuid,
        RoleRef::Custom(role.uuid),
        now(),
        &ev(org.uuid, "team.project_access_granted"),
    )
    .await
    .unwrap();
    log.expect_all(&t, &["team.updated", "team.project_access_granted"])
        .await;
    let got = t.team(org.uuid, team.uuid).await.unwrap().unwrap();
    assert_eq!(got.project_roles[0].role, RoleRef::Custom(role.uuid));
    assert_eq!(
        found(&t, &hash).await.owner_teams.projects,
        [ProjectRoleRecord {
            project_uuid: web.uuid,
            role: HeldRole::Custom(grant)
        }]
    );
    assert_err!(
        t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
            .await,
        StoreError::Conflict(latchkey_store::Conflict::CustomRoleInUse)
    );
    log.expect_none(&t).await;
    // Once no team holds it, it goes.
    t.remove_team_project_role(
        org.uuid,
        team.uuid,
        web.uuid,
        &ev(org.uuid, "team.project_access_revoked"),
    )
    .await
    .unwrap();
    t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
        .await
        .unwrap();
    log.expect_all(&t, &["team.project_access_revoked", "role.deleted"])
        .await;
}
