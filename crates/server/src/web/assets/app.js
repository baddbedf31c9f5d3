// latchkey settings pages: the little that plain forms cannot do. Every
// page works without it, except adding more than one project row.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: data-copy names the input whose value is copied.
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      const status = button.parentElement.querySelector(".copied");
      input.select();
      let copied = false;
      try {
        await navigator.clipboard.writeText(input.value);
        copied = true;
      } catch (_) {
        copied = document.execCommand && document.execCommand("copy");
      }
      if (status) status.textContent = copied ? "Copied" : "Press Ctrl+C to copy";
    });
  }

  // The expiry picker: the date field only for "Custom date…".
  for (const select of document.querySelectorAll("select[data-expiry]")) {
    const custom = select.closest("fieldset").querySelector("[data-custom-date]");
    const sync = () => {
      const on = select.value === "custom";
      custom.hidden = !on;
      custom.querySelector("input").required = on;
    };
    select.addEventListener("change", sync);
    sync();
  }

  // The scope picker: ticking a scope means "only these scopes".
  for (const picker of document.querySelectorAll("[data-scope-picker]")) {
    const selected = picker.querySelector("input[value=selected]");
    for (const box of picker.querySelectorAll("input[type=checkbox]")) {
      box.addEventListener("change", () => {
        if (box.checked) selected.checked = true;
      });
    }
  }

  // Service accounts: organization or project scope shows its own fields.
  for (const form of document.querySelectorAll("form")) {
    const radios = form.querySelectorAll("[data-scope-choice] input[type=radio]");
    if (!radios.length) continue;
    const sync = () => {
      const chosen = form.querySelector("[data-scope-choice] input:checked").value;
      for (const section of form.querySelectorAll("[data-scope-section]")) {
        const on = section.dataset.scopeSection === chosen;
        section.hidden = !on;
        section.disabled = !on;
      }
    };
    for (const radio of radios) radio.addEventListener("change", sync);
    sync();
  }

  // Project rows: add from the template, remove any.
  document.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove-row]");
    if (remove) {
      const row = remove.closest(".project-row");
      const rows = row.parentElement;
      row.remove();
      const next = rows.querySelector("select") || document.getElementById("add-project-row");
      if (next) next.focus();
      return;
    }
    const add = event.target.closest("[data-add-row]");
    if (add) {
      const rows = document.getElementById(add.dataset.addRow);
      const template = document.getElementById(add.dataset.template);
      const row = template.content.firstElementChild.cloneNode(true);
      rows.appendChild(row);
      row.querySelector("select").focus();
    }
  });

  // Dialogs: a link with data-open-dialog opens it in place; the link's own
  // page is the fallback.
  for (const opener of document.querySelectorAll("[data-open-dialog]")) {
    const dialog = document.getElementById(opener.dataset.openDialog);
    if (!dialog || !dialog.showModal) continue;
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.showModal();
      const first = dialog.querySelector("input:not([type=hidden]), select");
      if (first) first.focus();
    });
    for (const close of dialog.querySelectorAll("[data-close-dialog]")) {
      close.addEventListener("click", (event) => {
        event.preventDefault();
        dialog.close();
        opener.focus();
      });
    }
  }

  // Escape closes an open ⋯ menu (focus back on it) and a grants tooltip.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const focused = document.activeElement;
    if (focused && focused.closest(".has-tooltip")) focused.blur();
    for (const menu of document.querySelectorAll("details.menu[open]")) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
});
