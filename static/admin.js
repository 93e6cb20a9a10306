// The admin page: role and active changes apply as soon as they are made.
"use strict";

document.querySelectorAll("[data-user-id][data-field]").forEach((el) => {
  el.addEventListener("change", async () => {
    const value = el.type === "checkbox" ? el.checked : el.value;
    try {
      await FG.api("PATCH", `/api/v1/users/${el.dataset.userId}`, { [el.dataset.field]: value });
      FG.toast("Saved", "success", 1500);
    } catch (e) {
      FG.toast(e.message, "error", 6000);
      if (el.type === "checkbox") el.checked = !value;
    }
  });
});

// The admin project page: a suggestions file goes to the JSON API as its content (with the
// session's CSRF token, as every form's write), where it is checked whole.
const suggestionsForm = document.getElementById("import-suggestions");
if (suggestionsForm) {
  suggestionsForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = suggestionsForm.querySelector("input[type=file]").files[0];
    if (!file) return;
    const button = suggestionsForm.querySelector("[type=submit]");
    button.disabled = true;
    try {
      let data;
      try {
        data = JSON.parse(await file.text());
      } catch (e) {
        throw new Error(`${file.name} is not JSON (${e.message})`);
      }
      const { data: record } = await FG.api("POST", suggestionsForm.dataset.url, data);
      FG.toast(`Imported ${record.suggestions} suggestions for ${record.clips} clips`, "success");
      setTimeout(() => location.reload(), 600);
    } catch (e) {
      FG.toast(e.message, "error", 8000);
    } finally {
      button.disabled = false;
    }
  });
}
