// Shared by every page: JSON API calls with the session's CSRF token, toasts, and forms that
// post to the API (data-api="METHOD /api/v1/...").
"use strict";

const FG = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  class ApiError extends Error {
    constructor(status, detail, body) { super(detail); this.status = status; this.body = body; }
  }

  // fetch + JSON both ways; a non-2xx answer throws ApiError with the server's `detail`.
  async function api(method, url, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, "the server cannot be reached; check your connection and try again");
    }
    if (response.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new ApiError(401, "your session has ended; log in again");
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!response.ok) throw new ApiError(response.status, describe(data, response), data);
    return { status: response.status, data };
  }

  function describe(data, response) {
    const detail = data && data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail) && detail.length) {  // FastAPI's validation errors
      return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
    }
    return `${response.status} ${response.statusText}`;
  }

  function toast(message, kind = "info", ms = 3500) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = `toast toast-${kind}`;
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.textContent = message;
    box.appendChild(el);
    setTimeout(() => el.classList.add("leaving"), ms);
    setTimeout(() => el.remove(), ms + 400);
  }

  const label = (value) => String(value).replaceAll("_", " ");

  // <form data-api="POST /api/v1/users" data-then="reload|stay|URL"> sends its named fields as
  // JSON: numbers for type=number, booleans for checkboxes, empty fields left out.
  function bindApiForms(root = document) {
    root.querySelectorAll("form[data-api]").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const [method, url] = form.dataset.api.split(" ");
        const body = {};
        for (const el of form.elements) {
          if (!el.name || el.disabled) continue;
          if (el.type === "checkbox") body[el.name] = el.checked;
          else if (el.value === "") continue;
          else if (el.type === "number") body[el.name] = Number(el.value);
          else body[el.name] = el.value;
        }
        const button = form.querySelector("[type=submit]");
        if (button) button.disabled = true;
        try {
          await api(method, url, body);
          toast(form.dataset.success || "Saved", "success");
          const then = form.dataset.then || "reload";
          if (then === "reload") setTimeout(() => location.reload(), 300);
          else if (then !== "stay") location.href = then;
        } catch (e) {
          toast(e.message, "error", 6000);
        } finally {
          if (button) button.disabled = false;
        }
      });
    });
  }

  // Data-driven bar widths (data-width, in percent) and heat-map colours (data-colour) are set
  // through the CSSOM: the Content-Security-Policy allows no style attributes.
  function applyDataStyles(root = document) {
    root.querySelectorAll("[data-width]").forEach((el) => { el.style.width = `${el.dataset.width}%`; });
    root.querySelectorAll("[data-colour]").forEach((el) => { el.style.background = el.dataset.colour; });
  }

  document.addEventListener("DOMContentLoaded", () => { applyDataStyles(); bindApiForms(); });
  return { api, toast, label, ApiError, bindApiForms };
})();
