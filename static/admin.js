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
