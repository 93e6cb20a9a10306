// Suggestions on the annotation page: the clip's numbered choices from
// GET /api/v1/clips/{id}/suggestions (a model's predictions best first, then the typical
// combinations of the clip's class; never anyone's label), each filling all four values with
// one key (Shift+1 … Shift+9) or a click. The project's mode decides when they show (at_once:
// with the clip; after_first: once the initiator is chosen), and the submission says whether
// any was shown and which was chosen (FGSuggestions#submission). annotate.js drives it.
"use strict";

class FGSuggestions {
  // root: the page; first: the dimension chosen before suggestions show in after_first mode;
  // values(): the form's values; onPick(suggestion): fill the form with suggestion.attributes.
  constructor(root, { first, values, onPick }) {
    const $ = (id) => root.querySelector("#" + id);
    this.section = $("suggestions");
    this.list = $("suggestion-list");
    this.wait = $("suggestions-wait");
    this.first = first;
    this.values = values;
    this.onPick = onPick;
    this.request = 0;
    this.reset();
  }

  // Forget the clip's suggestions (edit mode, no clip left): nothing shown, nothing sent.
  reset() {
    this.request += 1;
    this.mode = "off";
    this.items = [];
    this.shown = false;   // some suggestion has been on screen for this clip
    this.chosen = null;   // the suggestion last applied, even if a value was changed after
    this.list.replaceChildren();
    this.section.hidden = true;
  }

  // Fetch the clip's suggestions; `chosen` restores an earlier choice (an undone submission's).
  async load(clip, { chosen = null } = {}) {
    this.reset();
    const request = this.request;
    let data;
    try {
      ({ data } = await FG.api("GET", `/api/v1/clips/${clip.id}/suggestions`));
    } catch (e) {
      if (request === this.request) FG.toast(`No suggestions for this clip: ${e.message}`, "info");
      return;
    }
    if (request !== this.request) return;  // another clip is up by now
    this.mode = data.mode;
    this.items = data.suggestions;
    this.chosen = chosen && this.items.find((s) => FGSuggestions.same(s, chosen)) || null;
    this.list.replaceChildren(...this.items.map((s, i) => this._item(s, i)));
    this.update();
  }

  static same(a, b) {
    return a.source === b.source && Object.keys(a.attributes).length === Object.keys(b.attributes).length
      && Object.entries(a.attributes).every(([d, v]) => b.attributes[d] === v);
  }

  _item(suggestion, i) {
    const n = i + 1;
    const source = suggestion.source === "model" && suggestion.score != null
      ? `model ${suggestion.score.toFixed(2)}` : suggestion.source;
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "suggestion";
    button.id = `suggestion-${i}`;
    button.setAttribute("aria-keyshortcuts", `Shift+${n}`);
    const spoken = suggestion.source === "model" && suggestion.score != null
      ? `model, score ${suggestion.score.toFixed(2)}` : "typical of the class";
    button.setAttribute("aria-label", `Suggestion ${n} (${spoken}): ${suggestion.text}`);
    const key = document.createElement("kbd");
    key.setAttribute("aria-hidden", "true");
    const shift = document.createElement("span");
    shift.className = "shift";
    shift.textContent = "⇧";
    key.append(shift, String(n));
    const text = document.createElement("span");
    text.className = "suggestion-text";
    text.textContent = suggestion.text;
    const tag = document.createElement("span");
    tag.className = `suggestion-source source-${suggestion.source}`;
    tag.textContent = source;
    const state = document.createElement("span");
    state.className = "suggestion-state";
    button.append(key, text, tag, state);
    button.addEventListener("click", (e) => {
      if (e.detail > 0) button.blur();  // a mouse click: keys go back to the page
      this.pick(i);
    });
    li.append(button);
    return li;
  }

  // The form's values changed: show the list when the mode allows, mark the applied one.
  update() {
    const values = this.values();
    const due = this.mode === "at_once" || (this.mode === "after_first" && Boolean(values[this.first]));
    if (due && this.items.length) this.shown = true;
    this.section.hidden = !this.items.length;
    this.list.hidden = !this.shown;
    this.wait.hidden = this.shown;
    this.items.forEach((s, i) => {
      const button = this.list.children[i].firstChild;
      const applied = s === this.chosen;
      const changed = applied && Object.entries(s.attributes).some(([d, v]) => values[d] !== v);
      button.setAttribute("aria-current", String(applied));
      button.classList.toggle("changed", changed);
      button.lastChild.textContent = applied ? (changed ? "applied, then changed" : "applied") : "";
    });
  }

  // Suggestion i (from 0), if it is on screen: remembered as chosen and handed to onPick.
  pick(i) {
    if (!this.items.length) return false;
    if (!this.shown) {
      FG.toast(`Suggestions show once you have chosen the ${FG.label(this.first)}.`, "info", 2000);
      return false;
    }
    const suggestion = this.items[i];
    if (!suggestion) {
      FG.toast(`There ${this.items.length === 1 ? "is one suggestion" : `are ${this.items.length} suggestions`}.`, "info", 1500);
      return false;
    }
    this.chosen = suggestion;
    this.onPick(suggestion);
    return true;
  }

  // The submission's `suggestion`: undefined when none was on screen (the field is left out).
  submission() {
    if (!this.shown) return undefined;
    const chosen = this.chosen && { source: this.chosen.source, attributes: { ...this.chosen.attributes } };
    return { shown: true, chosen: chosen || null };
  }
}
