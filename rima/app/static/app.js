// rima app: the browser side. Plain JavaScript, no library, no build step.
"use strict";
(function () {
  const M = JSON.parse(document.getElementById("msgs").textContent);
  const $ = (id) => document.getElementById(id);
  const fmt = (key, kw) => (M[key] || key).replace(/\{(\w+)\}/g, (_, k) => (kw && k in kw ? kw[k] : ""));
  const PILLAR_DEFAULT = ["ABS", "AST", "SSN", "AC"];
  const state = { columns: [], info: null, file: null, sheet: null, spec: null, fitJob: null, files: [] };

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = v; else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k) e.append(k);
    return e;
  }
  function notice(msg) { $("notice").textContent = msg || ""; }
  function clearErrors() { document.querySelectorAll("p.error").forEach((p) => { p.textContent = ""; }); }
  function showErrors(errors) {
    for (const e of errors || []) {
      const slot = $("err-" + e.field) || $("err-spec");
      slot.textContent = (slot.textContent ? slot.textContent + " · " : "") + e.message;
    }
    const first = (errors || []).map((e) => $("err-" + e.field) || $("err-spec"))[0];
    if (first) first.scrollIntoView({ block: "center" });
  }
  async function api(path, opts) {
    const r = await fetch(path, Object.assign({ credentials: "same-origin" }, opts || {}));
    const type = r.headers.get("content-type") || "";
    const body = type.includes("json") ? await r.json() : await r.text();
    return { ok: r.ok, status: r.status, body };
  }
  const post = (path, obj) => api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(obj) });

  // ---- files ---------------------------------------------------------------------------
  const DATA_EXT = /\.(csv|tsv|tab|txt|dta|sav|zsav|xlsx|xlsm|parquet|pq)$/i;
  async function upload(files) {
    clearErrors();
    const maxMb = parseFloat($("upload-limit").dataset.maxMb);
    let last = null;
    for (const f of files) {
      if (f.size > maxMb * 1024 * 1024) { showErrors([{ field: "upload", message: f.name + ": " + fmt("file_too_big", { mb: maxMb }) }]); continue; }
      notice(M.uploading + " " + f.name);
      const r = await api("/api/files?name=" + encodeURIComponent(f.name), { method: "POST", body: f });
      if (!r.ok) {
        const tooBig = r.status === 413 ? fmt("err_too_big", { name: f.name, mb: maxMb }) : String(r.status);
        showErrors((r.body && r.body.errors) || [{ field: "upload", message: tooBig }]); continue;
      }
      if (DATA_EXT.test(r.body.name)) last = r.body.name;
    }
    notice("");
    await refreshFiles(last);
  }
  async function refreshFiles(select) {
    const r = await api("/api/files");
    state.files = r.body.files || [];
    if (r.body.quota_bytes) {
      const mb = (n) => Math.round((n / 1048576) * 10) / 10;
      $("quota").textContent = fmt("quota", { used: mb(r.body.used_bytes), mb: mb(r.body.quota_bytes) });
    }
    const data = state.files.filter((n) => DATA_EXT.test(n));
    fill($("file-select"), data, select || state.file);
    document.querySelectorAll("select.file-choice").forEach((s) => {
      const list = s.dataset.files === "model" ? state.files.filter((n) => /\.json$/i.test(n)) : data;
      fill(s, list, s.value, s.dataset.optional ? M.none : null);
    });
    if ($("file-select").value && $("file-select").value !== state.file) await loadPreview($("file-select").value, null);
  }
  function fill(sel, names, keep, blank) {
    sel.replaceChildren();
    if (blank !== null && blank !== undefined) sel.append(el("option", { value: "", text: blank }));
    for (const n of names) sel.append(el("option", { value: n, text: n }));
    if (keep && names.includes(keep)) sel.value = keep;
  }

  // ---- preview -------------------------------------------------------------------------
  async function loadPreview(name, sheet) {
    clearErrors();
    const q = sheet ? "?sheet=" + encodeURIComponent(sheet) : "";
    const r = await api("/api/files/" + encodeURIComponent(name) + "/preview" + q);
    if (!r.ok) { showErrors(r.body.errors); return; }
    const p = r.body;
    state.file = name; state.sheet = p.sheet || null; state.columns = p.columns; state.info = p;
    const sf = $("sheet-field");
    if (p.sheets) { sf.hidden = false; fill($("sheet-select"), p.sheets, p.sheet); } else sf.hidden = true;
    let how = fmt("read_as", { fmt: p.format });
    if (p.separator) how += " (" + JSON.stringify(p.separator) + ", decimal " + JSON.stringify(p.decimal) + ")";
    $("preview-info").textContent = fmt("rows_cols", { rows: p.n_rows, cols: p.n_cols }) + " · " + how;
    const cols = el("table", { class: "sortable" }, el("caption", { text: name }));
    const head = el("tr"); for (const h of ["col_name", "col_type", "col_missing", "col_label", "col_values"]) head.append(el("th", { scope: "col" }, sortButton(M[h])));
    cols.append(el("thead", {}, head));
    const tb = el("tbody");
    for (const c of p.columns) {
      const vals = Object.entries(c.values).map(([k, v]) => k + " = " + v).join("; ");
      tb.append(el("tr", {}, el("td", { text: c.name }), el("td", { text: c.type }), el("td", { class: "num", "data-v": c.missing, text: c.missing }), el("td", { text: c.label }), el("td", { text: vals })));
    }
    cols.append(tb);
    const rows = el("table", {}, el("caption", { text: fmt("first_rows", { n: p.rows.length }) }));
    const h2 = el("tr"); for (const c of p.columns) h2.append(el("th", { scope: "col", text: c.name }));
    rows.append(el("thead", {}, h2));
    const b2 = el("tbody");
    for (const row of p.rows) { const tr = el("tr"); for (const v of row) tr.append(el("td", { text: v === null ? "" : String(v) })); b2.append(tr); }
    rows.append(b2);
    $("preview").replaceChildren(scrollBox(cols, name), scrollBox(rows, fmt("first_rows", { n: p.rows.length })));
    $("s-preview").hidden = false; $("s-map").hidden = false; $("s-run").hidden = false;
    state.guess = p.guess.spec;
    // a mapping made earlier for this file in this tab (e.g. before a language switch)
    const kept = sessionStorage.getItem("rima-spec:" + name);
    applySpec(kept ? JSON.parse(kept) : state.guess);
  }
  function keepSpec() {
    if (state.file) sessionStorage.setItem("rima-spec:" + state.file, JSON.stringify(currentSpec()));
  }
  function scrollBox(t, label) { return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": label }, t); }
  function sortButton(label) { return el("button", { type: "button", class: "sort", title: M.sort, text: label }); }

  // ---- mapping -------------------------------------------------------------------------
  function roles() {
    const r = { profiles: "profiles", indicators: "indicators" };
    for (const name of pillarNames()) r["pillar-" + name] = name;
    return r;
  }
  function pillarNames() { return Array.from(document.querySelectorAll("#pickers fieldset[data-pillar]")).map((f) => f.dataset.pillar); }
  function roleLabel(field) {
    if (field.startsWith("pillar-")) { const n = field.slice(7); return M["pillar_" + n] || fmt("pillar", { name: n }); }
    return M[field] || field;
  }
  function picker(field) {
    const fs = el("fieldset", { class: "picker", id: "pick-" + field });
    if (field.startsWith("pillar-")) fs.dataset.pillar = field.slice(7);
    fs.append(el("legend", { text: roleLabel(field) }));
    const sid = "search-" + field;
    fs.append(el("label", { for: sid, class: "sr" , text: fmt("search", { role: roleLabel(field) }) }));
    const search = el("input", { type: "search", id: sid, placeholder: "🔍" });
    search.addEventListener("input", () => {
      const q = search.value.toLowerCase();
      fs.querySelectorAll("li").forEach((li) => { li.hidden = q && !li.dataset.col.toLowerCase().includes(q) && !(li.dataset.label || "").toLowerCase().includes(q); });
    });
    fs.append(search, el("span", { class: "count", "aria-live": "polite" }));
    const ul = el("ul", { class: "choices" });
    state.columns.forEach((c, i) => {
      const id = "c-" + field + "-" + i;
      const cb = el("input", { type: "checkbox", id, value: c.name, "data-field": field });
      cb.addEventListener("change", refreshMapping);
      const li = el("li", { "data-col": c.name, "data-label": c.label }, cb, el("label", { for: id }, c.name + (c.label ? " — " + c.label : ""), el("span", { class: "why" })));
      ul.append(li);
    });
    fs.append(ul, el("p", { class: "error", id: "err-" + field, role: "alert" }));
    return fs;
  }
  function buildPickers(pillars) {
    const box = $("pickers"); box.replaceChildren();
    box.append(picker("profiles"), picker("indicators"));
    for (const p of pillars) box.append(picker("pillar-" + p));
    fill($("role-id"), state.columns.map((c) => c.name), null, M.none);
    fill($("role-weight"), state.columns.map((c) => c.name), null, M.none);
  }
  function checked(field) { return Array.from(document.querySelectorAll('#pick-' + field + ' input[type=checkbox]:checked')).map((c) => c.value); }
  function applySpec(spec) {
    const data = spec.data || {};
    const pillars = Object.keys(spec.pillars || {});
    for (const p of PILLAR_DEFAULT) if (!pillars.includes(p)) pillars.push(p);
    buildPickers(pillars);
    $("role-id").value = data.id || ""; $("role-weight").value = data.weight || "";
    const want = { profiles: data.profiles || [], indicators: Object.values(spec.indicators || {})[0] || [] };
    for (const [p, vs] of Object.entries(spec.pillars || {})) want["pillar-" + p] = vs;
    for (const [field, vs] of Object.entries(want)) for (const v of vs) { const cb = document.querySelector('#pick-' + field + ' input[value="' + CSS.escape(v) + '"]'); if (cb) cb.checked = true; }
    const opts = spec.options || {};
    document.querySelectorAll("[data-option]").forEach((inp) => {
      const key = inp.dataset.option; let v;
      if (key.startsWith("factor.")) v = (opts.factor || {})[key.slice(7)]; else v = opts[key];
      if (v === undefined) v = inp.defaultValue !== undefined && inp.tagName === "INPUT" ? inp.defaultValue : defaultOf(inp);
      inp.value = Array.isArray(v) ? v.join(", ") : String(v);
    });
    state.negative = new Set(opts.negative || []);
    state.anchor = Object.assign({}, opts.anchor || {});
    refreshMapping();
    // each list starts with its chosen columns, then the free ones, then those taken
    // elsewhere (sorted once here, so nothing moves under the pointer while choosing)
    document.querySelectorAll("#pickers ul.choices").forEach((ul) => {
      const rank = (li) => { const cb = li.querySelector("input"); return cb.checked ? 0 : cb.disabled ? 2 : 1; };
      ul.append(...Array.from(ul.children).sort((a, b) => rank(a) - rank(b)));
    });
  }
  function defaultOf(sel) { const o = Array.from(sel.options).find((o) => o.defaultSelected); return o ? o.value : sel.value; }
  function refreshMapping() {
    const owner = {};
    const idv = $("role-id").value, wv = $("role-weight").value;
    if (idv) owner[idv] = M.id; if (wv) owner[wv] = M.weight;
    const fields = Object.keys(roles());
    for (const f of fields) for (const v of checked(f)) owner[v] = owner[v] || roleLabel(f);
    for (const f of fields) {
      const mine = new Set(checked(f));
      document.querySelectorAll('#pick-' + f + ' li').forEach((li) => {
        const cb = li.querySelector("input"), why = li.querySelector(".why");
        const taken = owner[li.dataset.col] && !mine.has(li.dataset.col);
        const textCol = f !== "profiles" && (state.columns.find((c) => c.name === li.dataset.col) || {}).type === "text";
        cb.disabled = Boolean(taken || textCol);
        why.textContent = taken ? " (" + fmt("in_role", { role: owner[li.dataset.col] }) + ")" : textCol ? " (" + M.text_column + ")" : "";
      });
      const n = mine.size;
      $("pick-" + f).querySelector(".count").textContent = fmt("chosen", { n });
      const min = f === "indicators" ? 2 : f.startsWith("pillar-") ? 3 : 0;
      $("err-" + f).textContent = n && n < min ? fmt("need_vars", { role: roleLabel(f), n, min }) : "";
    }
    // orientation: negative variables and anchors among the chosen pillar variables
    const vars = []; for (const p of pillarNames()) for (const v of checked("pillar-" + p)) vars.push([p, v]);
    const nb = $("negative-box"); nb.replaceChildren();
    const nfs = el("fieldset", { class: "picker" }, el("legend", { text: M.negative }));
    const ul = el("ul", { class: "choices" });
    vars.forEach(([p, v], i) => {
      const cb = el("input", { type: "checkbox", id: "neg-" + i, value: v, checked: state.negative.has(v) });
      cb.addEventListener("change", () => { if (cb.checked) state.negative.add(v); else state.negative.delete(v); });
      ul.append(el("li", {}, cb, el("label", { for: "neg-" + i, text: v + " (" + p + ")" })));
    });
    nfs.append(ul); nb.append(nfs);
    const an = $("anchors"); an.replaceChildren();
    for (const p of pillarNames()) {
      const id = "anchor-" + p;
      const sel = el("select", { id, "data-pillar": p }, el("option", { value: "", text: M.no_anchor }));
      for (const v of checked("pillar-" + p)) { sel.append(el("option", { value: v, text: "+ " + v }), el("option", { value: "-" + v, text: "− " + v })); }
      sel.value = state.anchor[p] || "";
      sel.addEventListener("change", () => { state.anchor[p] = sel.value; });
      an.append(el("div", { class: "field" }, el("label", { for: id, text: fmt("anchor_of", { name: p }) }), sel));
    }
  }
  function optionValue(inp) {
    const v = inp.value.trim(), kind = inp.dataset.kind;
    if (kind === "bool") return v === "true";
    if (kind === "int") return v === "" ? null : Number(v);
    if (inp.dataset.option === "rci_100" && v !== "minmax") return v.split(",").map(Number);
    if (inp.dataset.option === "factor.retention" && /^\d+$/.test(v)) return Number(v);
    return v;
  }
  function currentSpec() {
    const data = { id: $("role-id").value, weight: $("role-weight").value, profiles: checked("profiles") };
    const pillars = {}; for (const p of pillarNames()) { const vs = checked("pillar-" + p); if (vs.length) pillars[p] = vs; }
    const options = { factor: {} };
    document.querySelectorAll("[data-option]").forEach((inp) => {
      const key = inp.dataset.option, def = inp.tagName === "SELECT" ? defaultOf(inp) : inp.defaultValue;
      if (inp.value.trim() === String(def)) return;  // defaults stay out of the spec
      if (key.startsWith("factor.")) options.factor[key.slice(7)] = optionValue(inp); else options[key] = optionValue(inp);
    });
    const chosen = new Set(Object.values(pillars).flat());
    const neg = Array.from(state.negative).filter((v) => chosen.has(v));
    if (neg.length) options.negative = neg;
    const anchor = {}; for (const [p, v] of Object.entries(state.anchor)) if (v && pillars[p]) anchor[p] = v;
    if (Object.keys(anchor).length) options.anchor = anchor;
    return { data, pillars, indicators: { food_security: checked("indicators") }, options };
  }

  // ---- jobs ----------------------------------------------------------------------------
  async function poll(jobId, onDone, errField) {
    const steps = $("steps");
    for (;;) {
      const r = await api("/api/jobs/" + jobId);
      if (!r.ok) { showErrors([{ field: errField, message: String(r.status) }]); return; }
      const s = r.body;
      if (errField === "run") {
        steps.replaceChildren(...s.steps.map((t) => el("li", { text: t })));
        if (s.state === "queued") steps.append(el("li", { text: M.queued + (s.position ? " (" + s.position + ")" : "") }));
        showProgress(s);
      } else notice(M[s.state] || s.state);
      if (s.state === "done") { notice(M.done); await onDone(jobId); await refreshFiles(null); return; }
      if (s.state === "failed" || s.state === "cancelled") { notice(M.failed); showErrors(s.errors); return; }
      await new Promise((res) => setTimeout(res, 600));
    }
  }
  function showProgress(s) {
    // the whole job (steps done, only rises) and, during the bootstrap, replicates done / total
    $("progress-box").hidden = s.percent === null;
    if (s.percent !== null) {
      $("progress-bar").value = s.percent;
      $("progress-text").textContent = s.step ? fmt("progress_step", { i: s.step, n: s.n_steps, pct: s.percent }) : s.percent + " %";
    }
    const b = s.bar;
    $("boot-box").hidden = !b;
    if (b) {
      const pct = b.total ? Math.floor((100 * b.done) / b.total) : 0;
      $("boot-bar").value = pct;
      $("boot-text").textContent = fmt("progress_boot", { done: b.done, total: b.total, pct });
    }
  }
  async function run() {
    clearErrors();
    const body = { file: state.file, sheet: state.sheet, spec: currentSpec(), n_boot: Number($("n-boot").value || 0) };
    $("run").disabled = true;
    try {
      const r = await post("/api/fit", body);
      if (!r.ok) { notice(M.fix_errors); showErrors(r.body.errors); return; }
      notice(M.running);
      await poll(r.body.job, async (id) => {
        state.fitJob = id;
        const res = await api("/api/jobs/" + id + "/results");
        $("results").innerHTML = res.body.results;
        $("downloads").innerHTML = res.body.downloads;
        $("s-results").hidden = false; $("s-download").hidden = false;
        $("h-results").scrollIntoView();
      }, "run");
    } finally { $("run").disabled = false; }
  }
  async function sideJob(path, body, target, errField) {
    clearErrors();
    const r = await post(path, body);
    if (!r.ok) { showErrors(r.body.errors); return; }
    await poll(r.body.job, async (id) => {
      const res = await api("/api/jobs/" + id + "/results");
      $(target).innerHTML = res.body.results + res.body.downloads;
    }, errField);
  }

  // ---- tables --------------------------------------------------------------------------
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button.sort"); if (!b) return;
    const th = b.closest("th"), table = th.closest("table"), i = Array.from(th.parentNode.children).indexOf(th);
    const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    table.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    const tb = table.tBodies[0];
    const key = (tr) => { const td = tr.children[i]; const v = td.dataset.v !== undefined ? td.dataset.v : td.textContent; const n = parseFloat(v); return isNaN(n) ? v : n; };
    const rows = Array.from(tb.rows).sort((a, b2) => { const x = key(a), y = key(b2); return (typeof x === typeof y ? (x > y) - (x < y) : typeof x === "number" ? -1 : 1) * dir; });
    tb.append(...rows);
  });

  // ---- wiring --------------------------------------------------------------------------
  $("upload-input").addEventListener("change", (e) => upload(Array.from(e.target.files)));
  $("file-select").addEventListener("change", (e) => loadPreview(e.target.value, null));
  $("sheet-select").addEventListener("change", (e) => loadPreview(state.file, e.target.value));
  $("role-id").addEventListener("change", refreshMapping);
  $("role-weight").addEventListener("change", refreshMapping);
  $("add-pillar").addEventListener("click", () => {
    const n = $("new-pillar").value.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) || pillarNames().includes(n)) return;
    $("pickers").append(picker("pillar-" + n)); $("new-pillar").value = ""; refreshMapping();
  });
  $("guess-again").addEventListener("click", () => state.guess && applySpec(state.guess));
  $("spec-download").addEventListener("click", async () => {
    const r = await fetch("/api/spec/toml", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(currentSpec()) });
    const url = URL.createObjectURL(await r.blob());
    const a = el("a", { href: url, download: "spec.toml" }); document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  $("spec-upload").addEventListener("change", async (e) => {
    const f = e.target.files[0]; if (!f) return;
    clearErrors();
    const r = await api("/api/spec/parse", { method: "POST", body: await f.text() });
    if (!r.ok) { showErrors(r.body.errors); return; }
    applySpec(r.body.spec);
    keepSpec();
  });
  $("run").addEventListener("click", run);
  $("s-map").addEventListener("change", keepSpec);
  $("guess-again").addEventListener("click", () => state.file && sessionStorage.removeItem("rima-spec:" + state.file));
  $("score-run").addEventListener("click", () => sideJob("/api/score", { model: $("score-model").value, data: $("score-data").value }, "score-results", "score"));
  $("an-kind").addEventListener("change", () => document.querySelectorAll("[data-for]").forEach((d) => { d.hidden = d.dataset.for !== $("an-kind").value; }));
  function impactForm() {
    const v = (k) => $("im-" + k).value.trim();
    const body = { panel: v("panel"), model_source: v("model"), model_file: v("model_file"),
      treatment_mode: v("treatment_mode"), treatment: v("treatment"), randomised: $("im-randomised").checked };
    for (const k of ["outcome", "covariates", "round_col", "treated_from", "baseline", "weight", "n_boot",
      "boot_weights", "seed", "level", "benefit", "dzud_classes"]) body[k] = v(k);
    if (body.model_source === "spec") body.spec = currentSpec();
    return body;
  }
  $("an-run").addEventListener("click", () => sideJob("/api/analysis", Object.assign({
    kind: $("an-kind").value, fit: state.fitJob, soums: $("an-soums").value, thresholds: $("an-thresholds").value,
    quantiles: $("an-quantiles").value, outcome: $("an-outcome").value, regression: $("an-regression").value,
    change: $("an-change").value, boot: $("an-boot").value }, $("an-kind").value === "impact" ? impactForm() : {}),
    "an-results", "analysis"));
  $("delete").addEventListener("click", async () => {
    if (!window.confirm(M.delete_confirm)) return;
    const r = await post("/api/delete", {});
    document.querySelector("main").replaceChildren(el("p", { role: "status", text: r.body.message }));
  });
  refreshFiles(null);
})();
