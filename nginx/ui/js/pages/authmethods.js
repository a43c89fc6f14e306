// authmethods.js -- ACL auth methods: a live list, create/edit/delete
// with each type's Config fields (the rest as JSON), secrets hidden
// until "Show", and the binding rules of the chosen method below.

import { get, put, del, watch } from "../api.js";
import { h, render, field, message, explain, confirmIn, names } from "../dom.js";

export const title = "Auth methods";

// Config fields by type.  kind: text, area (free text), secret (a
// password box with Show), list (comma-separated), pems (PEM blocks),
// map ("claim=value" per line).
const FIELDS = {
	kubernetes: [
		["Host", "Host (API server URL)", "text"],
		["CACert", "CACert (PEM)", "area"],
		["ServiceAccountJWT", "ServiceAccountJWT", "secret"],
	],
	jwt: [
		["JWTValidationPubKeys", "JWTValidationPubKeys (PEM public keys)", "pems"],
		["JWKSURL", "JWKSURL", "text"],
		["OIDCDiscoveryURL", "OIDCDiscoveryURL", "text"],
		["BoundIssuer", "BoundIssuer", "text"],
		["BoundAudiences", "BoundAudiences (comma-separated)", "list"],
		["ClaimMappings", "ClaimMappings (claim=name, one a line)", "map"],
		["ListClaimMappings", "ListClaimMappings (claim=name, one a line)", "map"],
	],
	oidc: [
		["OIDCDiscoveryURL", "OIDCDiscoveryURL", "text"],
		["OIDCClientID", "OIDCClientID", "text"],
		["OIDCClientSecret", "OIDCClientSecret", "secret"],
		["AllowedRedirectURIs", "AllowedRedirectURIs (comma-separated)", "list"],
		["BoundAudiences", "BoundAudiences (comma-separated)", "list"],
		["ClaimMappings", "ClaimMappings (claim=name, one a line)", "map"],
	],
};
const TYPES = Object.keys(FIELDS);

export function mount(el, signal) {
	const msg = h("div#am-msg");
	const tbody = h("tbody#am-rows");
	const formArea = h("div#am-form-area");
	const rulesArea = h("div#br-area");
	let rulesCtl = null;
	signal.addEventListener("abort", () => rulesCtl && rulesCtl.abort());

	function rows(list) {
		if (!list.length)
			return render(tbody, h("tr", h("td.muted", { colspan: 6 }, "No auth methods.")));
		render(tbody, list.map((m) => {
			const acts = h("td.actions");
			render(acts,
			    h("button.small", { type: "button", "aria-label": "Edit auth method " + m.Name,
				onclick: () => edit(m) }, "Edit"),
			    h("button.small", { type: "button", "aria-label": "Binding rules of " + m.Name,
				onclick: () => rules(m.Name) }, "Binding rules"),
			    h("button.small", { type: "button", "aria-label": "Delete auth method " + m.Name,
				onclick: () => confirmIn(acts, "Delete auth method " + m.Name +
				    " (and its binding rules and tokens)?", () => remove(m)) }, "Delete"));
			return h("tr", { "data-name": m.Name },
			    h("td", m.Name), h("td", m.Type), h("td", m.DisplayName || ""),
			    h("td", m.Description || ""),
			    h("td", [m.MaxTokenTTL && m.MaxTokenTTL !== "0s" ? "max TTL " + m.MaxTokenTTL : "",
				m.TokenLocality || ""].filter((x) => x).join(", ")),
			    acts);
		}));
	}

	async function remove(m) {
		try {
			await del("/v1/acl/auth-method/" + encodeURIComponent(m.Name));
			message(msg, "ok", "Deleted auth method " + m.Name + ".");
			if (rulesArea.dataset.method === m.Name)
				rules(null);
		} catch (e) {
			message(msg, "error", explain(e));
		}
	}

	async function edit(stub) {
		let m = null;
		if (stub) {
			try {	// the list leaves Config out
				m = (await get("/v1/acl/auth-method/" + encodeURIComponent(stub.Name), { signal })).data;
			} catch (e) {
				return message(msg, "error", explain(e));
			}
		}
		render(formArea, methodForm(m, (text) => {
			render(formArea);
			if (text)
				message(msg, "ok", text);
		}));
		formArea.querySelector("input, select").focus();
	}

	function rules(name) {
		if (rulesCtl)
			rulesCtl.abort();
		rulesCtl = null;
		delete rulesArea.dataset.method;
		if (!name)
			return render(rulesArea);
		rulesCtl = new AbortController();
		rulesArea.dataset.method = name;
		rulesSection(rulesArea, name, rulesCtl.signal);
	}

	render(el,
	    h("div.row", h("button.primary#am-new", { type: "button", onclick: () => edit(null) }, "New auth method")),
	    formArea, msg,
	    h("table#am-table",
		h("thead", h("tr", ["Name", "Type", "Display name", "Description", "Tokens", ""]
		    .map((x) => h("th", { scope: "col" }, x)))),
		tbody),
	    rulesArea);
	watch("/v1/acl/auth-methods", {}, (list) => rows(list || []),
	    (e) => message(msg, "error", explain(e)), signal);
}

// One Config field's control, filled from the value v.
function control(type, [key, label, kind], v) {
	const id = "am-" + type + "-" + key;
	let ctl, text = "";
	if (v !== undefined && v !== null) {
		if (kind === "list")
			text = v.join(", ");
		else if (kind === "pems")
			text = v.join("\n");
		else if (kind === "map")
			text = Object.entries(v).map(([a, b]) => a + "=" + b).join("\n");
		else
			text = String(v);
	}
	if (kind === "area" || kind === "pems" || kind === "map")
		ctl = h("textarea#" + id + (kind === "map" ? "" : ".code"),
		    { spellcheck: "false", value: text, "data-key": key, "data-kind": kind });
	else
		ctl = h("input#" + id, { type: kind === "secret" ? "password" : "text", size: 50,
		    autocomplete: "off", value: text, "data-key": key, "data-kind": kind });
	if (kind !== "secret")
		return field(label, ctl);
	const show = h("button.small", { type: "button", "aria-label": "Show " + key,
	    "aria-pressed": "false", onclick: () => {
		const hidden = ctl.type === "password";
		ctl.type = hidden ? "text" : "password";
		show.textContent = hidden ? "Hide" : "Show";
		show.setAttribute("aria-pressed", String(hidden));
	} }, "Show");
	return h("div.field", h("label", { for: id }, label), h("div.row", ctl, show));
}

// The control's value for the Config, or undefined when empty.
function valueOf(ctl) {
	const s = ctl.value.trim();
	if (!s)
		return undefined;
	switch (ctl.dataset.kind) {
	case "list":
		return names(s);
	case "pems": {
		const blocks = s.match(/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/g);
		if (!blocks)
			throw new Error(ctl.dataset.key + ": no PEM block found");
		return blocks.map((b) => b + "\n");
	}
	case "map": {
		const m = {};
		for (const line of s.split("\n").map((x) => x.trim()).filter((x) => x)) {
			const i = line.indexOf("=");
			if (i <= 0)
				throw new Error(ctl.dataset.key + ": \"" + line + "\" is not claim=name");
			m[line.slice(0, i).trim()] = line.slice(i + 1).trim();
		}
		return m;
	}
	default:
		return ctl.type === "password" || ctl.dataset.kind === "secret" ? ctl.value : s;
	}
}

function methodForm(m, done) {
	const isNew = !m;
	m = m || { Type: "jwt", Config: {} };
	const cfg = m.Config || {};
	const name = h("input#am-name", { type: "text", required: true, value: m.Name || "",
	    disabled: !isNew });
	const type = h("select#am-type", { disabled: !isNew },
	    TYPES.map((t) => h("option", { value: t, selected: t === m.Type }, t)));
	const display = h("input#am-display", { type: "text", value: m.DisplayName || "" });
	const desc = h("input#am-description", { type: "text", size: 40, value: m.Description || "" });
	const ttl = h("input#am-ttl", { type: "text", size: 8, value: m.MaxTokenTTL && m.MaxTokenTTL !== "0s" ? m.MaxTokenTTL : "",
	    placeholder: "e.g. 1h" });
	const loc = h("select#am-locality",
	    [["", "default (local)"], ["local", "local"], ["global", "global"]]
		.map(([v, t]) => h("option", { value: v, selected: (m.TokenLocality || "") === v }, t)));
	// Per type: its fields, and the Config keys it does not name as JSON.
	const sets = {};
	for (const t of TYPES) {
		const known = new Set(FIELDS[t].map((f) => f[0]));
		const rest = {};
		if (t === m.Type)
			for (const [k, v] of Object.entries(cfg))
				if (!known.has(k))
					rest[k] = v;
		const extra = h("textarea#am-" + t + "-extra.code", { spellcheck: "false",
		    value: Object.keys(rest).length ? JSON.stringify(rest, null, 2) : "",
		    placeholder: '{"OIDCScopes": ["email"]}' });
		sets[t] = { extra, box: h("fieldset", { hidden: t !== m.Type },
		    h("legend", t + " configuration"),
		    FIELDS[t].map((f) => control(t, f, t === m.Type ? cfg[f[0]] : undefined)),
		    field("Other Config fields (JSON object)", extra)) };
	}
	type.addEventListener("change", () => {
		for (const t of TYPES)
			sets[t].box.hidden = t !== type.value;
	});
	const msg = h("div#am-form-msg");
	const heading = isNew ? "New auth method" : "Edit auth method " + m.Name;
	const form = h("form#am-form", { "aria-label": heading }, h("h2", heading),
	    h("div.row", field("Name", name), field("Type", type), field("Display name", display)),
	    h("div.row", field("Description", desc), field("Max token TTL", ttl), field("Token locality", loc)),
	    TYPES.map((t) => sets[t].box),
	    msg,
	    h("div.row", h("button.primary", { type: "submit" }, "Save"),
		h("button#am-cancel", { type: "button", onclick: () => done() }, "Cancel")));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		message(msg);
		const t = type.value;
		let config;
		try {
			const x = sets[t].extra.value.trim();
			config = x ? JSON.parse(x) : {};
			if (typeof config !== "object" || Array.isArray(config) || config === null)
				throw new Error("not an object");
		} catch (e) {
			return message(msg, "error", "Other Config fields: not a JSON object (" + e.message + ")");
		}
		try {
			for (const ctl of sets[t].box.querySelectorAll("[data-key]")) {
				const v = valueOf(ctl);
				if (v !== undefined)
					config[ctl.dataset.key] = v;
			}
		} catch (e) {
			return message(msg, "error", e.message);
		}
		const body = { Name: isNew ? name.value.trim() : m.Name, Type: t,
		    DisplayName: display.value.trim(), Description: desc.value, Config: config };
		if (ttl.value.trim())
			body.MaxTokenTTL = ttl.value.trim();
		if (loc.value)
			body.TokenLocality = loc.value;
		try {
			await put(isNew ? "/v1/acl/auth-method" : "/v1/acl/auth-method/" + encodeURIComponent(m.Name), body);
			done((isNew ? "Created" : "Saved") + " auth method " + body.Name + ".");
		} catch (e) {
			message(msg, "error", explain(e, "acl:write"));
		}
	});
	return form;
}

const BIND_TYPES = ["service", "node", "role", "policy"];

// The binding rules of one method: live list, create/edit/delete.
function rulesSection(el, method, signal) {
	const msg = h("div#br-msg");
	const tbody = h("tbody#br-rows");
	const formArea = h("div#br-form-area");

	function edit(r) {
		render(formArea, ruleForm(method, r, (text) => {
			render(formArea);
			if (text)
				message(msg, "ok", text);
		}));
		formArea.querySelector("input").focus();
	}

	async function remove(r) {
		try {
			await del("/v1/acl/binding-rule/" + encodeURIComponent(r.ID));
			message(msg, "ok", "Deleted the binding rule.");
		} catch (e) {
			message(msg, "error", explain(e));
		}
	}

	render(el, h("section", { "aria-label": "Binding rules of " + method },
	    h("h2", "Binding rules of ", h("code", method)),
	    h("div.row", h("button.primary#br-new", { type: "button", onclick: () => edit(null) }, "New binding rule")),
	    formArea, msg,
	    h("table#br-table",
		h("thead", h("tr", ["Selector", "Bind type", "Bind name", "Description", ""]
		    .map((x) => h("th", { scope: "col" }, x)))),
		tbody)));
	watch("/v1/acl/binding-rules", { authmethod: method }, (list) => {
		list = list || [];
		if (!list.length)
			return render(tbody, h("tr", h("td.muted", { colspan: 5 }, "No binding rules: logins through this method are refused.")));
		render(tbody, list.map((r) => {
			const acts = h("td.actions");
			render(acts,
			    h("button.small", { type: "button", "aria-label": "Edit binding rule " + r.ID,
				onclick: () => edit(r) }, "Edit"),
			    h("button.small", { type: "button", "aria-label": "Delete binding rule " + r.ID,
				onclick: () => confirmIn(acts, "Delete this binding rule?", () => remove(r)) }, "Delete"));
			return h("tr", { "data-id": r.ID },
			    h("td", r.Selector ? h("code", r.Selector) : h("span.muted", "every login")),
			    h("td", r.BindType), h("td", h("code", r.BindName)),
			    h("td", r.Description || ""), acts);
		}));
	}, (e) => message(msg, "error", explain(e)), signal);
}

function ruleForm(method, r, done) {
	const isNew = !r;
	r = r || { BindType: "service" };
	const desc = h("input#br-description", { type: "text", size: 40, value: r.Description || "" });
	const sel = h("input#br-selector", { type: "text", size: 50, value: r.Selector || "",
	    placeholder: 'value.team == "payments"' });
	const bt = h("select#br-bindtype",
	    BIND_TYPES.map((t) => h("option", { value: t, selected: t === r.BindType }, t)));
	const bn = h("input#br-bindname", { type: "text", required: true, value: r.BindName || "",
	    placeholder: "${value.team}" });
	const msg = h("div#br-form-msg");
	const heading = isNew ? "New binding rule for " + method : "Edit binding rule";
	const form = h("form#br-form", { "aria-label": heading }, h("h2", heading),
	    h("div.row", field("Selector (empty: every login)", sel), field("Description", desc)),
	    h("div.row", field("Bind type", bt), field("Bind name", bn)),
	    msg,
	    h("div.row", h("button.primary", { type: "submit" }, "Save"),
		h("button#br-cancel", { type: "button", onclick: () => done() }, "Cancel")));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		message(msg);
		const body = { AuthMethod: method, Description: desc.value, Selector: sel.value.trim(),
		    BindType: bt.value, BindName: bn.value.trim() };
		try {
			await put(isNew ? "/v1/acl/binding-rule" : "/v1/acl/binding-rule/" + encodeURIComponent(r.ID), body);
			done((isNew ? "Created" : "Saved") + " the binding rule.");
		} catch (e) {
			message(msg, "error", explain(e, "acl:write"));
		}
	});
	return form;
}
