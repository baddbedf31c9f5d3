//! The token format and the keyed hash that is all latchkey stores of a token.
//!
//! `<prefix><32 base62 random characters><6 base62 checksum>`: 44 characters
//! (43 for the five-character `lkrs_`), the checksum a CRC32 of everything
//! before it, so a secret scanner (or our own request path) can reject a
//! look-alike without a database round trip.

use hmac::{Hmac, Mac};
use rand::distributions::{Alphanumeric, DistString};
use rand::{CryptoRng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const RANDOM_LEN: usize = 32;
pub const CHECKSUM_LEN: usize = 6;
/// The longest prefix; `lkrs_` is one shorter.
pub const PREFIX_LEN: usize = 6;
/// The longest token.
pub const TOKEN_LEN: usize = PREFIX_LEN + RANDOM_LEN + CHECKSUM_LEN;
/// The non-secret part shown in lists, logs and audit events.
pub const DISPLAY_PREFIX_LEN: usize = 10;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TokenKind {
    PersonalAccessToken,
    ApiKey,
    ServiceAccount,
    /// An instance-level resource server (token introspection), not a
    /// credential of any organization.
    ResourceServer,
}

impl TokenKind {
    pub const ALL: [TokenKind; 4] = [
        TokenKind::PersonalAccessToken,
        TokenKind::ApiKey,
        TokenKind::ServiceAccount,
        TokenKind::ResourceServer,
    ];

    /// Changing a prefix would silently revoke every token of that kind.
    pub const fn prefix(self) -> &'static str {
        match self {
            TokenKind::PersonalAccessToken => "lkpat_",
            TokenKind::ApiKey => "lkkey_",
            TokenKind::ServiceAccount => "lksvc_",
            TokenKind::ResourceServer => "lkrs_",
        }
    }

    /// The kind of organization credential a token of this kind belongs
    /// to; a resource server belongs to none.
    pub const fn credential_kind(self) -> Option<crate::CredentialKind> {
        match self {
            TokenKind::PersonalAccessToken => Some(crate::CredentialKind::Pat),
            TokenKind::ApiKey => Some(crate::CredentialKind::ApiKey),
            TokenKind::ServiceAccount => Some(crate::CredentialKind::ServiceAccount),
            TokenKind::ResourceServer => None,
        }
    }

    /// The token kind of a credential kind; a web session has none.
    pub fn of_credential(kind: crate::CredentialKind) -> Option<TokenKind> {
        TokenKind::ALL
            .into_iter()
            .find(|k| k.credential_kind() == Some(kind))
    }

    /// The length of a token of this kind.
    pub const fn token_len(self) -> usize {
        self.prefix().len() + RANDOM_LEN + CHECKSUM_LEN
    }

    fn from_start(text: &[u8]) -> Option<TokenKind> {
        // No prefix starts another (a test pins it), so one matches at most.
        TokenKind::ALL
            .into_iter()
            .find(|k| text.starts_with(k.prefix().as_bytes()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedToken {
    #[error("the token has the wrong length")]
    Length,
    #[error("the token has an unknown prefix")]
    Prefix,
    #[error("the token has a character outside base62")]
    Alphabet,
    #[error("the token's checksum does not match")]
    Checksum,
}

/// A well-formed token, borrowed from wherever it was read.
#[derive(Clone, Copy)]
pub struct ParsedToken<'a> {
    kind: TokenKind,
    text: &'a str,
}

impl<'a> ParsedToken<'a> {
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    pub fn display_prefix(&self) -> &'a str {
        &self.text[..DISPLAY_PREFIX_LEN]
    }

    /// The whole token; only for hashing.
    pub fn expose(&self) -> &'a str {
        self.text
    }
}

/// Checks length, prefix, alphabet and checksum. Allocates nothing.
pub fn parse(text: &str) -> Result<ParsedToken<'_>, MalformedToken> {
    let bytes = text.as_bytes();
    if !(TOKEN_LEN - 1..=TOKEN_LEN).contains(&bytes.len()) {
        return Err(MalformedToken::Length);
    }
    let kind = TokenKind::from_start(bytes).ok_or(MalformedToken::Prefix)?;
    if bytes.len() != kind.token_len() {
        return Err(MalformedToken::Length);
    }
    let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if !bytes[kind.prefix().len()..]
        .iter()
        .all(u8::is_ascii_alphanumeric)
    {
        return Err(MalformedToken::Alphabet);
    }
    if checksum != checksum_of(body) {
        return Err(MalformedToken::Checksum);
    }
    Ok(ParsedToken { kind, text })
}

fn checksum_of(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut crc = u64::from(crc32fast::hash(body));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    out
}

/// A freshly minted token. It exists in memory only until the response that
/// reveals it is written: it has no `Debug`, `Display` or `Serialize`.
pub struct TokenSecret(String);

impl TokenSecret {
    pub fn generate<R: RngCore + CryptoRng>(kind: TokenKind, rng: &mut R) -> TokenSecret {
        let mut text = String::with_capacity(TOKEN_LEN);
        text.push_str(kind.prefix());
        Alphanumeric.append_string(rng, &mut text, RANDOM_LEN);
        let checksum = checksum_of(text.as_bytes());
        text.push_str(std::str::from_utf8(&checksum).expect("base62 is ASCII"));
        TokenSecret(text)
    }

    /// Wraps a token given from outside (the setup token) after checking it.
    pub fn from_well_formed(text: &str) -> Result<TokenSecret, MalformedToken> {
        parse(text).map(|t| TokenSecret(t.expose().to_string()))
    }

    pub fn parsed(&self) -> ParsedToken<'_> {
        parse(&self.0).expect("a TokenSecret is always well formed")
    }

    pub fn display_prefix(&self) -> &str {
        &self.0[..DISPLAY_PREFIX_LEN]
    }

    /// The secret itself: for the one response that reveals it, and hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// HMAC-SHA-256 of a token under the server key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<TokenHash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(TokenHash(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time comparison, for wherever a stored hash meets a computed one.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", &hex::encode(&self.0[..4]))
    }
}

/// The server key, pre-loaded into an HMAC state that is cloned per hash.
#[derive(Clone)]
pub struct TokenHasher {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHasher(<redacted>)")
    }
}

/// The shortest server key latchkey accepts, in bytes.
pub const MIN_KEY_LEN: usize = 32;

impl TokenHasher {
    pub fn new(key: &[u8]) -> Option<TokenHasher> {
        if key.len() < MIN_KEY_LEN {
            return None;
        }
        Some(TokenHasher {
            keyed: Hmac::new_from_slice(key).ok()?,
        })
    }

    pub fn hash(&self, token: &str) -> TokenHash {
        self.hash_parts(&[token.as_bytes()])
    }

    /// Hash of several parts, for secrets that are not tokens (session ids,
    /// invite codes, CSRF tokens); the first part names the purpose so that
    /// the same bytes never hash alike for two purposes.
    pub fn hash_parts(&self, parts: &[&[u8]]) -> TokenHash {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        TokenHash(mac.finalize().into_bytes().into())
    }
}

/// A random secret that is not a credential token (session id, invite code):
/// 32 base62 characters, about 190 bits.
pub fn random_secret<R: RngCore + CryptoRng>(rng: &mut R) -> crate::SecretString {
    Alphanumeric.sample_string(rng, RANDOM_LEN).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn prefixes_are_pinned() {
        assert_eq!(TokenKind::PersonalAccessToken.prefix(), "lkpat_");
        assert_eq!(TokenKind::ApiKey.prefix(), "lkkey_");
        assert_eq!(TokenKind::ServiceAccount.prefix(), "lksvc_");
        assert_eq!(TokenKind::ResourceServer.prefix(), "lkrs_");
        for a in TokenKind::ALL {
            assert!(a.prefix().len() <= PREFIX_LEN && a.prefix().len() >= PREFIX_LEN - 1);
            for b in TokenKind::ALL {
                if a != b {
                    assert!(!a.prefix().starts_with(b.prefix()));
                }
            }
        }
    }

    #[test]
    fn token_and_credential_kinds_correspond() {
        for kind in TokenKind::ALL {
            match kind.credential_kind() {
                Some(c) => assert_eq!(TokenKind::of_credential(c), Some(kind)),
                None => assert_eq!(kind, TokenKind::ResourceServer),
            }
        }
        assert_eq!(
            TokenKind::of_credential(crate::CredentialKind::Session),
            None
        );
    }

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        let mut rng = StdRng::seed_from_u64(7);
        for kind in TokenKind::ALL {
            let t = TokenSecret::generate(kind, &mut rng);
            assert_eq!(t.expose().len(), kind.token_len());
            assert_eq!(t.expose().len(), kind.prefix().len() + 38);
            assert!(t.expose().starts_with(kind.prefix()));
            assert_eq!(t.display_prefix(), &t.expose()[..10]);
            assert_eq!(t.parsed().kind(), kind);
        }
    }

    #[test]
    fn malformed_tokens_are_told_apart() {
        let mut rng = StdRng::seed_from_u64(1);
        let good = TokenSecret::generate(TokenKind::ApiKey, &mut rng);
        let good = good.expose();
        assert_eq!(parse("").err(), Some(MalformedToken::Length));
        assert_eq!(parse(&good[..43]).err(), Some(MalformedToken::Length));
        assert_eq!(
            parse(&format!("lkxxx_{}", &good[6..])).err(),
            Some(MalformedToken::Prefix)
        );
        assert_eq!(
            parse(&format!("{}-{}", &good[..20], &good[21..])).err(),
            Some(MalformedToken::Alphabet)
        );
        let rs = TokenSecret::generate(TokenKind::ResourceServer, &mut rng);
        assert_eq!(
            parse(rs.expose()).map(|t| t.kind()),
            Ok(TokenKind::ResourceServer)
        );
        assert_eq!(
            parse(&format!("{}x", rs.expose())).err(),
            Some(MalformedToken::Length)
        );
        // Multi-byte characters must not panic on slicing.
        assert!(parse(&format!("lkpat_{}", "é".repeat(19))).is_err());
    }

    #[test]
    fn hashes_depend_on_the_key_and_ct_eq_compares_every_byte() {
        let a = TokenHasher::new(&[1u8; 32]).unwrap();
        let b = TokenHasher::new(&[2u8; 32]).unwrap();
        assert!(TokenHasher::new(&[1u8; 31]).is_none());
        let ha = a.hash("lkpat_x");
        assert!(ha.ct_eq(&a.hash("lkpat_x")));
        assert!(!ha.ct_eq(&b.hash("lkpat_x")));
        // A hash that differs from it in any one byte, first to last, is
        // another hash (that the comparison takes constant time is
        // `subtle`'s promise, which this cannot observe).
        let hex = ha.to_hex();
        for byte in 0..hex.len() / 2 {
            let mut other = hex.clone().into_bytes();
            other[2 * byte] = if other[2 * byte] == b'0' { b'1' } else { b'0' };
            let other = TokenHash::from_hex(std::str::from_utf8(&other).unwrap()).unwrap();
            assert!(!ha.ct_eq(&other), "byte {byte}");
        }
        assert_eq!(TokenHash::from_hex(&ha.to_hex()), Some(ha));
        assert!(!format!("{ha:?}").contains(&ha.to_hex()));
        assert_ne!(
            a.hash_parts(&[b"session", b"x"]),
            a.hash_parts(&[b"invite", b"x"])
        );
    }

    proptest! {
        #[test]
        fn format_round_trips(seed in any::<u64>(), k in 0usize..4) {
            let mut rng = StdRng::seed_from_u64(seed);
            let t = TokenSecret::generate(TokenKind::ALL[k], &mut rng);
            let parsed = parse(t.expose()).unwrap();
            prop_assert_eq!(parsed.kind(), TokenKind::ALL[k]);
            prop_assert_eq!(parsed.expose(), t.expose());
        }

        #[test]
        fn checksum_rejects_any_single_character_change(
            seed in any::<u64>(), offset in 0usize..38, replacement in 0usize..62, k in 0usize..4,
        ) {
            let mut rng = StdRng::seed_from_u64(seed);
            let kind = TokenKind::ALL[k];
            let t = TokenSecret::generate(kind, &mut rng);
            let pos = kind.prefix().len() + offset;
            let mut bytes = t.expose().as_bytes().to_vec();
            prop_assume!(bytes[pos] != BASE62[replacement]);
            bytes[pos] = BASE62[replacement];
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(parse(&changed).err(), Some(MalformedToken::Checksum));
        }
    }
}
