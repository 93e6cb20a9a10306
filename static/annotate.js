// The annotation page: the next clip in the player, the four attributes chosen by keyboard or
// mouse, suggestions that fill all four (suggestions.js, when the project offers them), the
// live FG-Text sentence, submit-and-next, undo, skip, edit, time spent.
"use strict";

(() => {
  const config = JSON.parse(document.getElementById("annotate-config").textContent);
  const project = config.project;
  const DIMS = config.dimensions;  // fgtext.schema.DIMENSIONS, in order
  const $ = (id) => document.getElementById(id);
  const player = new FGPlayer(document);
  const classes = Object.fromEntries(project.classes.map((c) => [c.id, c]));

  const state = {
    clip: null,           // ClipPublic being labelled
    editing: null,        // the AnnotationPublic being edited (edit mode), else null
    values: {},           // dimension -> chosen value
    active: 0,            // index of the dimension the keys go to
    filter: Object.fromEntries(DIMS.map((d) => [d, ""])),
    highlight: Object.fromEntries(DIMS.map((d) => [d, 0])),
    submitted: [],        // this page's submissions, newest last: {annotation, clip}
    seconds: 0,           // time on the current clip, counted while the page is visible
    busy: false,
    done: config.done,
    remaining: config.remaining,
  };

  // -- time spent -----------------------------------------------------------------------------
  let lastTick = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (document.visibilityState === "visible" && state.clip) state.seconds += (now - lastTick) / 1000;
    lastTick = now;
    const s = Math.floor(state.seconds);
    $("timer").textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }, 250);

  // -- attribute choice -----------------------------------------------------------------------
  const fieldset = (d) => $("dim-" + d);
  const chips = (d) => [...fieldset(d).querySelectorAll(".chip")];
  const visibleChips = (d) => chips(d).filter((c) => !c.hidden);

  function matches(value, filter) {
    if (!filter) return true;
    const words = value.split("_");
    const f = filter.replaceAll(" ", "_");
    return value.startsWith(f) || words.some((w) => w.startsWith(f)) || value.includes(f);
  }

  function renderDim(d) {
    const filter = state.filter[d];
    const shown = [];
    for (const chip of chips(d)) {
      chip.hidden = !matches(chip.dataset.value, filter);
      const chosen = state.values[d] === chip.dataset.value;
      chip.setAttribute("aria-checked", String(chosen));
      chip.classList.toggle("chosen", chosen);
      if (!chip.hidden) shown.push(chip);
    }
    const h = Math.min(state.highlight[d], Math.max(0, shown.length - 1));
    state.highlight[d] = h;
    const active = DIMS[state.active] === d;
    // The group keeps the focus and points at the highlighted value (aria-activedescendant),
    // so screen readers follow the highlight while the keys stay the page's.
    chips(d).forEach((c) => c.classList.remove("highlight"));
    if (shown.length && active) shown[h].classList.add("highlight");
    const group = $("group-" + d);
    if (shown.length) group.setAttribute("aria-activedescendant", shown[h].id);
    else group.removeAttribute("aria-activedescendant");
    fieldset(d).classList.toggle("active", active);
    fieldset(d).classList.toggle("complete", Boolean(state.values[d]));
    const target = shown.length ? ` → ${FG.label(shown[h].dataset.value)} (Enter)` : " — no match";
    $("filter-" + d).textContent = filter ? `filter: ${filter}${target}` : "";
    $("chosen-" + d).textContent = state.values[d] ? FG.label(state.values[d]) : "";
  }

  function renderAll() { DIMS.forEach(renderDim); updateSentence(); suggestions?.update(); }

  function highlightChosen(d) {
    const i = visibleChips(d).findIndex((c) => c.dataset.value === state.values[d]);
    state.highlight[d] = Math.max(0, i);
  }

  function setActive(i) {
    state.active = (i + DIMS.length) % DIMS.length;
    const d = DIMS[state.active];
    if (!state.filter[d]) { chips(d).forEach((c) => { c.hidden = false; }); highlightChosen(d); }
    renderAll();
    focusGroup();
    const el = fieldset(DIMS[state.active]);
    if (el.getBoundingClientRect().bottom > window.innerHeight || el.getBoundingClientRect().top < 0) {
      el.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  }

  // Move the focus to the active group, unless the user is typing in a field.
  function focusGroup() {
    const current = document.activeElement;
    if (!current || current === document.body || current.closest(".chips, .chip")) {
      $("group-" + DIMS[state.active]).focus({ preventScroll: true });
    }
  }

  function choose(d, value, advance = true) {
    state.values[d] = value;
    state.filter[d] = "";
    state.highlight[d] = 0;
    if (advance) {
      const next = DIMS.findIndex((x, i) => i > DIMS.indexOf(d) && !state.values[x]);
      const open = DIMS.findIndex((x) => !state.values[x]);
      state.active = next >= 0 ? next : open >= 0 ? open : DIMS.indexOf(d);
    }
    renderAll();
    highlightChosen(d);
    renderDim(d);
    focusGroup();
  }

  // -- suggestions: one key fills all four values, each still editable -----------------------
  const suggestions = config.suggestion_mode !== "off"
    ? new FGSuggestions(document, { first: DIMS[0], values: () => state.values, onPick: applySuggestion })
    : null;

  function applySuggestion(suggestion) {
    state.values = { ...suggestion.attributes };
    DIMS.forEach((d) => { state.filter[d] = ""; });
    DIMS.forEach(renderDim);  // every value visible again, so the chosen ones can be highlighted
    DIMS.forEach(highlightChosen);
    renderAll();
    focusGroup();
  }

  DIMS.forEach((d, i) => {
    chips(d).forEach((chip) => chip.addEventListener("click", (e) => {
      state.active = i;
      if (e.detail > 0) chip.blur();
      choose(d, chip.dataset.value);
    }));
    fieldset(d).addEventListener("click", (e) => { if (!e.target.closest(".chip") && state.active !== i) setActive(i); });
    $("group-" + d).addEventListener("focus", () => { if (state.active !== i) setActive(i); });
  });

  // -- the live sentence (composed by the server with the project's schema) -------------------
  let sentenceRequest = 0;
  async function updateSentence() {
    const id = ++sentenceRequest;
    const query = new URLSearchParams(Object.entries(state.values).filter(([, v]) => v));
    try {
      const { data } = await FG.api("GET", `/api/v1/projects/${project.id}/fg-text?${query}`);
      if (id !== sentenceRequest) return;
      $("sentence").textContent = data.text;
      $("sentence").classList.toggle("draft", !data.complete);
    } catch (e) { /* keep the last sentence; the submit will say what is wrong */ }
  }

  // -- clips ----------------------------------------------------------------------------------
  function resetForm(values = {}, unsure = false, note = "") {
    state.values = { ...values };
    DIMS.forEach((d) => { state.filter[d] = ""; state.highlight[d] = 0; });
    state.active = Math.max(0, DIMS.findIndex((d) => !state.values[d]));
    $("unsure").checked = unsure;
    $("note").value = note;
    hideSkip();
    renderAll();
    focusGroup();
  }

  // `chosen`: the suggestion an undone submission had chosen, chosen again.
  function showClip(clip, { values = {}, unsure = false, note = "", seconds = 0, editing = null, chosen = null } = {}) {
    state.clip = clip;
    state.editing = editing;
    state.seconds = seconds;
    const cls = classes[clip.label];
    $("clip-name").textContent = clip.clip_id;
    $("clip-meta").textContent = [cls ? `class ${cls.id}: ${cls.name}` : `class ${clip.label}`, clip.split,
      clip.start_frame != null ? `frames ${clip.start_frame}–${clip.end_frame - 1} of its video` : null].filter(Boolean).join(" · ");
    $("mode-label").textContent = editing ? "Editing your label" : "Next clip";
    $("edit-banner").hidden = !editing;
    if (editing) $("edit-banner").textContent = `You are changing your label of ${clip.clip_id} (version ${editing.version}). Submit saves the change; then the queue continues.`;
    $("player").hidden = false;
    $("done-state").hidden = true;
    $("label-form").classList.remove("disabled");
    if (editing) suggestions?.reset(); else suggestions?.load(clip, { chosen });  // before the form
    resetForm(values, unsure, note);
    player.load(clip);
  }

  function showDone() {
    state.clip = null;
    suggestions?.reset();
    $("player").hidden = true;
    $("done-state").hidden = false;
    $("clip-name").textContent = "No clips left";
    $("clip-meta").textContent = "";
    $("label-form").classList.add("disabled");
  }

  async function loadNext() {
    try {
      const { status, data } = await FG.api("POST", `/api/v1/projects/${project.id}/next`);
      if (status === 204) showDone(); else showClip(data);
    } catch (e) {
      FG.toast(e.message, "error", 8000);
    }
  }

  function setCounts() {
    $("count-done").textContent = state.done;
    $("count-remaining").textContent = Math.max(0, state.remaining);
    $("btn-undo").disabled = state.submitted.length === 0;
  }

  // -- submit, undo, skip ---------------------------------------------------------------------
  async function submit() {
    if (!state.clip || state.busy) return;
    const missing = DIMS.find((d) => !state.values[d]);
    if (missing) {
      FG.toast(`Choose a value for ${FG.label(missing)} first.`, "error");
      setActive(DIMS.indexOf(missing));
      return;
    }
    const body = { attributes: { ...state.values }, unsure: $("unsure").checked,
      note: $("note").value, seconds_spent: Math.round(state.seconds * 10) / 10 };
    state.busy = true;
    try {
      if (state.editing) {
        await FG.api("PUT", `/api/v1/annotations/${state.editing.id}`, { ...body, version: state.editing.version });
        FG.toast(`Saved your change to ${state.clip.clip_id}`, "success");
        history.replaceState(null, "", location.pathname);
        const item = config.recent.find((r) => r.annotation_id === state.editing.id);
        if (item) { item.attributes = body.attributes; renderRecent(); }
      } else {
        const suggestion = suggestions?.submission();  // left out: none was shown
        if (suggestion) body.suggestion = suggestion;
        const { data } = await FG.api("POST", `/api/v1/clips/${state.clip.id}/annotations`, body);
        state.submitted.push({ annotation: data, clip: state.clip });
        state.done += 1;
        state.remaining -= 1;
        config.recent.unshift({ annotation_id: data.id, clip: state.clip.id, clip_id: state.clip.clip_id, attributes: data.attributes });
        renderRecent();
        FG.toast(`Saved ${state.clip.clip_id}`, "success", 1500);
      }
      setCounts();
      await loadNext();
    } catch (e) {
      FG.toast(e.message, "error", 8000);
      // The clip filled up meanwhile (e.g. the lease ran out while the page was idle): go on.
      if (e.status === 409 && !state.editing) await loadNext();
    } finally {
      state.busy = false;
    }
  }

  async function undo() {
    const last = state.submitted.at(-1);
    if (!last || state.busy) { FG.toast("Nothing to undo on this page.", "info"); return; }
    state.busy = true;
    try {
      const { data: clip } = await FG.api("DELETE", `/api/v1/annotations/${last.annotation.id}`);
      state.submitted.pop();
      state.done -= 1;
      state.remaining += 1;
      config.recent = config.recent.filter((r) => r.annotation_id !== last.annotation.id);
      renderRecent();
      setCounts();
      const a = last.annotation;
      showClip(clip, { values: a.attributes, unsure: a.unsure, note: a.note, seconds: a.seconds_spent || 0,
        chosen: a.suggestion_chosen });
      FG.toast(`Undone: ${clip.clip_id} is back for you to label`, "info");
    } catch (e) {
      FG.toast(e.message, "error", 8000);
      // The clip has all its labels: it cannot be withdrawn, but the label can be edited.
      if (e.status === 409) location.assign(`/projects/${project.id}/annotate?clip=${last.clip.id}`);
    } finally {
      state.busy = false;
    }
  }

  function showSkip() {
    if (!state.clip || state.editing) return;
    $("skip-box").hidden = false;
    $("skip-reason").focus();
  }
  function hideSkip() { $("skip-box").hidden = true; $("skip-reason").value = ""; }
  async function skip() {
    const reason = $("skip-reason").value.trim();
    if (!reason) { FG.toast("Say why you skip this clip.", "error"); $("skip-reason").focus(); return; }
    try {
      await FG.api("POST", `/api/v1/clips/${state.clip.id}/skip`, { reason });
      state.remaining -= 1;
      setCounts();
      FG.toast(`Skipped ${state.clip.clip_id}`, "info");
      $("skip-reason").blur();
      await loadNext();
    } catch (e) {
      FG.toast(e.message, "error", 8000);
    }
  }

  function renderRecent() {
    const list = $("recent-list");
    list.replaceChildren(...config.recent.slice(0, 8).map((r) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/projects/${project.id}/annotate?clip=${r.clip}`;
      a.textContent = r.clip_id;
      a.title = "Edit this label";
      const span = document.createElement("span");
      span.className = "muted small";
      span.textContent = " " + DIMS.map((d) => FG.label(r.attributes[d])).join(" · ");
      li.append(a, span);
      return li;
    }));
  }

  $("label-form").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  $("btn-undo").addEventListener("click", undo);
  $("btn-skip").addEventListener("click", showSkip);
  $("btn-skip-confirm").addEventListener("click", skip);
  $("btn-skip-cancel").addEventListener("click", hideSkip);
  $("unsure").addEventListener("change", (e) => e.target.blur());

  // -- keys -----------------------------------------------------------------------------------
  const help = $("help-overlay");
  const toggleHelp = (show = help.hidden) => { help.hidden = !show; };

  document.addEventListener("keydown", (e) => {
    const inField = e.target.closest && e.target.closest("textarea, input:not([type=checkbox]):not([type=range]), select");
    const mod = e.ctrlKey || e.metaKey;
    if (mod && e.key === "Enter") { e.preventDefault(); if (e.target.id === "skip-reason") skip(); else submit(); return; }
    if (inField) {
      if (e.key === "Escape") { e.target.blur(); if (e.target.id === "skip-reason") hideSkip(); }
      else if (e.key === "Enter" && e.target.id === "skip-reason") { e.preventDefault(); skip(); }
      return;  // typing in a field
    }
    if (!help.hidden && (e.key === "Escape" || e.key === "?")) { e.preventDefault(); toggleHelp(false); return; }
    // A keyboard user on a button, link or checkbox activates it with Enter or Space as usual.
    const onControl = e.target.closest && e.target.closest("button:not(.chip), a[href], summary, input[type=checkbox]");
    if (onControl && (e.key === "Enter" || e.key === " ")) return;
    if (mod && !e.shiftKey && e.key.toLowerCase() === "z") { e.preventDefault(); undo(); return; }
    if (e.altKey && !mod) {
      const k = e.code;
      if (k === "KeyU") { e.preventDefault(); $("unsure").checked = !$("unsure").checked; FG.toast($("unsure").checked ? "Marked unsure" : "Not unsure", "info", 900); }
      else if (k === "KeyN") { e.preventDefault(); $("note").focus(); }
      else if (k === "KeyS") { e.preventDefault(); showSkip(); }
      return;
    }
    if (mod) return;  // leave the browser's own shortcuts alone
    // Shift+1 … Shift+9 by the key's place, whatever character the layout gives it.
    if (suggestions && e.shiftKey && !e.altKey && /^Digit[1-9]$/.test(e.code)) {
      e.preventDefault();
      suggestions.pick(Number(e.code.slice(5)) - 1);
      return;
    }
    if (e.key === "?") { e.preventDefault(); toggleHelp(); return; }
    if (!state.clip) return;
    const d = DIMS[state.active];
    const onChip = e.target.classList && e.target.classList.contains("chip");
    if (e.key === "Enter") {
      e.preventDefault();
      const chip = onChip ? e.target : visibleChips(d)[state.highlight[d]];
      if (chip) choose(chip.closest(".dim").dataset.dim, chip.dataset.value);
      return;
    }
    if (player.handleKey(e)) { e.preventDefault(); return; }
    if (/^[1-4]$/.test(e.key)) { e.preventDefault(); setActive(Number(e.key) - 1); return; }
    if (e.key === "Tab") return;  // normal focus order
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const n = visibleChips(d).length;
      if (n) state.highlight[d] = (state.highlight[d] + (e.key === "ArrowDown" ? 1 : -1) + n) % n;
      renderDim(d);
      visibleChips(d)[state.highlight[d]]?.scrollIntoView({ block: "nearest" });
      return;
    }
    if (e.key === "Escape") { e.preventDefault(); state.filter[d] = ""; renderDim(d); return; }
    if (e.key === "Backspace") { e.preventDefault(); state.filter[d] = state.filter[d].slice(0, -1); state.highlight[d] = 0; renderDim(d); return; }
    if (/^[a-zA-Z_]$/.test(e.key)) {
      e.preventDefault();
      state.filter[d] += e.key.toLowerCase();
      state.highlight[d] = 0;
      renderDim(d);
    }
  });

  // -- start ----------------------------------------------------------------------------------
  renderRecent();
  setCounts();
  if (config.editing) {
    const a = config.editing.annotation;
    showClip(config.editing.clip, { values: a.attributes, unsure: a.unsure, note: a.note, editing: a });
  } else {
    loadNext();
  }
})();
