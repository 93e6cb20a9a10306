// The review page: the clip in the player, the decision form, and the live sentence.
"use strict";

(() => {
  const config = JSON.parse(document.getElementById("review-config").textContent);
  const DIMS = config.dimensions;  // fgtext.schema.DIMENSIONS, in order
  const $ = (id) => document.getElementById(id);
  const player = new FGPlayer(document);
  player.load(config.clip);

  const values = () => Object.fromEntries(DIMS.map((d) => [d, $("final-" + d).value]));
  async function updateSentence() {
    try {
      const query = new URLSearchParams(values());
      const { data } = await FG.api("GET", `/api/v1/projects/${config.project.id}/fg-text?${query}`);
      $("sentence").textContent = data.text;
    } catch (e) { $("sentence").textContent = e.message; }
  }
  DIMS.forEach((d) => $("final-" + d).addEventListener("change", updateSentence));
  updateSentence();

  async function decide() {
    const reason = $("reason").value.trim();
    if (!reason) { FG.toast("Give a reason for the decision.", "error"); $("reason").focus(); return; }
    $("btn-adjudicate").disabled = true;
    try {
      await FG.api("POST", `/api/v1/clips/${config.clip.id}/adjudication`, { attributes: values(), reason });
      FG.toast(`Decided ${config.clip.clip_id}`, "success");
      setTimeout(() => { location.href = config.next_url; }, 400);
    } catch (e) {
      FG.toast(e.message, "error", 8000);
      $("btn-adjudicate").disabled = false;
    }
  }
  $("decision-form").addEventListener("submit", (e) => { e.preventDefault(); decide(); });

  // Admins: the form's values become the clip's known (gold) values, or it stops being gold.
  async function gold(method) {
    try {
      await FG.api(method, `/api/v1/clips/${config.clip.id}/gold`, method === "PUT" ? { attributes: values() } : undefined);
      FG.toast(method === "PUT" ? `${config.clip.clip_id} is gold` : `${config.clip.clip_id} is no longer gold`, "success");
      setTimeout(() => location.reload(), 400);
    } catch (e) { FG.toast(e.message, "error", 8000); }
  }
  $("btn-gold")?.addEventListener("click", () => gold("PUT"));
  $("btn-ungold")?.addEventListener("click", () => gold("DELETE"));

  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); decide(); return; }
    if (e.target.closest("textarea, input:not([type=range]), select") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest("button, a[href], summary") && (e.key === "Enter" || e.key === " ")) return;
    if (player.handleKey(e)) e.preventDefault();
  });
})();
