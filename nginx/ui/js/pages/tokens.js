// tokens.js -- ACL tokens: a live list (blocking queries) with a
// search box, expiry shown and tokens expiring within 7 days marked,
// SecretIDs hidden until "Show" is pressed, create/edit/clone/delete.

import { get, put, del, watch } from "../api.js";
import { h, render, field, message, explain, confirmIn, when, names, matches, DAY } from "../dom.js";

export const title = "Tokens";

function expiry(t) {
	if (!t.ExpirationTime)
		return h("span.muted", "never");
	const left = new Date(t.ExpirationTime) - Date.now();
	return h("span", when(t.ExpirationTime), " ",
	    left <= 0 ? h("span.tag.expired", "expired") :
	    left < 7 * DAY ? h("span.tag.soon", "expires within 7 days") : null);
}

const links = (xs) => (xs || []).map((x) => x.Name).join(", ");

function describe(t) {
	return [t.AccessorID, t.Description, links(t.Policies), links(t.Roles),
	    (t.ServiceIdentities || []).map((s) => s.ServiceName).join(" "),
	    t.AuthMethod || ""].join(" ");
}

export function mount(el, signal) {
	const msg = h("div#tok-msg");
	const tbody = h("tbody#tok-rows");
	const formArea = h("div#tok-form-area");
	const search = h("input#tok-search", { type: "search", size: 40 });
	let all = [];

	function rows() {
		const list = all.filter((t) => matches(describe(t), search.value));
		if (!list.length)
			return render(tbody, h("tr", h("td.muted", { colspan: 6 }, "No tokens.")));
		render(tbody, list.map((t) => {
			const secret = h("td.secret");
			const show = h("button.small", { type: "button", "aria-label": "Show secret of " + t.AccessorID,
			    onclick: () => reveal(t, secret) }, "Show");
			render(secret, h("span.muted", "hidden "), show);
			const acts = h("td.actions");
			render(acts,
			    h("button.small", { type: "button", "aria-label": "Edit token " + t.AccessorID,
				onclick: () => edit(t, false) }, "Edit"),
			    h("button.small", { type: "button", "aria-label": "Clone token " + t.AccessorID,
				onclick: () => edit(t, true) }, "Clone"),
			    h("button.small", { type: "button", "aria-label": "Delete token " + t.AccessorID,
				onclick: () => confirmIn(acts, "Delete token " + t.AccessorID.slice(0, 8) + "?",
				    () => remove(t)) }, "Delete"));
			return h("tr", { "data-accessor": t.AccessorID },
			    h("td", h("code", { title: t.AccessorID }, t.AccessorID.slice(0, 8)),
				t.Local ? h("span.muted", " local") : null),
			    h("td", t.Description || ""),
			    h("td", [links(t.Policies), links(t.Roles) && "roles: " + links(t.Roles),
				(t.ServiceIdentities || []).length && "services: " +
				t.ServiceIdentities.map((s) => s.ServiceName).join(", ")]
				.filter((x) => x).join("; ")),
			    h("td", expiry(t)), secret, acts);
		}));
	}

	// The list carries the SecretID only for acl:write holders; read
	// the token when it is missing or redacted.
	async function reveal(t, td) {
		let s = t.SecretID;
		if (!s || s === "<hidden>") {
			try {
				s = (await get("/v1/acl/token/" + encodeURIComponent(t.AccessorID), { signal })).data.SecretID;
			} catch (e) {
				return message(msg, "error", explain(e));
			}
		}
		const hide = h("button.small", { type: "button", onclick: () => rows() }, "Hide");
		render(td, h("code.revealed", s), " ", hide);
		hide.focus();
	}

	async function remove(t) {
		try {
			await del("/v1/acl/token/" + encodeURIComponent(t.AccessorID));
			message(msg, "ok", "Deleted token " + t.AccessorID + ".");
		} catch (e) {
			message(msg, "error", explain(e));
		}
	}

	function edit(t, clone) {
		message(msg);	// the last form's outcome no longer applies
		render(formArea, tokenForm(t, clone, (text) => {
			render(formArea);
			if (text)
				message(msg, "ok", text);
		}));
		formArea.querySelector("input").focus();
	}

	search.addEventListener("input", rows);
	render(el,
	    h("div.row", field("Search tokens", search,
		"Words matched against accessor, description, policies, roles and services."),
		h("button.primary#tok-new", { type: "button", onclick: () => edit(null, false) }, "New token")),
	    formArea, msg,
	    h("table#tok-table",
		h("thead", h("tr", ["Accessor", "Description", "Grants", "Expires", "Secret", ""]
		    .map((x) => h("th", { scope: "col" }, x)))),
		tbody));
	watch("/v1/acl/tokens", {}, (list) => {
		all = list || [];
		if (msg.querySelector(".error"))
			message(msg);
		rows();
	}, (e) => message(msg, "error", explain(e)), signal);
}

// Create (t null), edit (t) or clone (t, clone) a token.
function tokenForm(t, clone, done) {
	const isNew = !t || clone;
	t = t || {};
	const desc = h("input#tok-description", { type: "text", size: 50,
	    value: clone ? "Clone of " + (t.Description || t.AccessorID) : t.Description || "" });
	const pols = h("input#tok-policies", { type: "text", size: 40, value: links(t.Policies) });
	const roles = h("input#tok-roles", { type: "text", size: 40, value: links(t.Roles) });
	const svcs = h("input#tok-services", { type: "text", size: 40,
	    value: (t.ServiceIdentities || []).map((s) => s.ServiceName).join(", ") });
	const ttl = h("input#tok-ttl", { type: "text", size: 10, placeholder: "e.g. 8h" });
	const local = h("input#tok-local", { type: "checkbox", checked: t.Local });
	const msg = h("div#tok-form-msg");
	const heading = clone ? "Clone token " + t.AccessorID : t.AccessorID ? "Edit token " + t.AccessorID : "New token";
	const form = h("form#tok-form", { "aria-label": heading }, h("h2", heading),
	    field("Description", desc),
	    clone ? h("p.muted", "The clone gets the same policies, roles and identities and a new secret.") : [
		h("div.row", field("Policies (names, comma-separated)", pols),
		    field("Roles (names, comma-separated)", roles)),
		field("Service identities (service names, comma-separated)", svcs),
		isNew ? h("div.row", field("Expires after (ExpirationTTL, 1m-24h; empty: never)", ttl),
		    h("div.field", h("label", { for: "tok-local" }, "Local to this datacenter"), local)) : null],
	    msg,
	    h("div.row", h("button.primary", { type: "submit" }, clone ? "Clone" : "Save"),
		h("button", { type: "button", onclick: () => done() }, "Cancel")));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		try {
			let r;
			if (clone) {
				r = await put("/v1/acl/token/" + encodeURIComponent(t.AccessorID) + "/clone",
				    { Description: desc.value });
			} else {
				const body = {
					Description: desc.value,
					Policies: names(pols.value).map((n) => ({ Name: n })),
					Roles: names(roles.value).map((n) => ({ Name: n })),
					ServiceIdentities: names(svcs.value).map((n) => ({ ServiceName: n })),
				};
				if (isNew) {
					body.Local = local.checked;
					if (ttl.value.trim())
						body.ExpirationTTL = ttl.value.trim();
					r = await put("/v1/acl/token", body);
				} else {
					body.Local = t.Local;
					r = await put("/v1/acl/token/" + encodeURIComponent(t.AccessorID), body);
				}
			}
			done((isNew ? "Created" : "Saved") + " token " + r.data.AccessorID + ".");
		} catch (e) {
			message(msg, "error", explain(e));
		}
	});
	return form;
}
