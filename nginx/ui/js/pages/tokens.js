// tokens.js -- ACL tokens: a live list (blocking queries) with a
// search box, expiry shown and tokens expiring within 7 days marked,
// SecretIDs hidden until "Show" is pressed, create/edit/clone/delete.

import { get, put } from "../api.js";
import { h, render, field, message, explain, when, names, DAY } from "../dom.js";
import { listPage, rowButton, deleteButton } from "../listpage.js";

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
	const p = listPage("tok", {
		text: describe, cols: 6, empty: "No tokens.",
		row: (t) => {
			const secret = h("td.secret");
			const show = rowButton("Show", "Show secret of " + t.AccessorID, () => reveal(t, secret));
			render(secret, h("span.muted", "hidden "), show);
			const acts = h("td.actions");
			render(acts,
			    rowButton("Edit", "Edit token " + t.AccessorID, () => edit(t, false)),
			    rowButton("Clone", "Clone token " + t.AccessorID, () => edit(t, true)),
			    deleteButton(acts, "Delete token " + t.AccessorID,
				"Delete token " + t.AccessorID.slice(0, 8) + "?",
				() => p.remove("/v1/acl/token/" + encodeURIComponent(t.AccessorID),
				    "Deleted token " + t.AccessorID + ".")));
			return h("tr", { "data-accessor": t.AccessorID },
			    h("td", h("code", { title: t.AccessorID }, t.AccessorID.slice(0, 8)),
				t.Local ? h("span.muted", " local") : null),
			    h("td", t.Description || ""),
			    h("td", [links(t.Policies), links(t.Roles) && "roles: " + links(t.Roles),
				(t.ServiceIdentities || []).length && "services: " +
				t.ServiceIdentities.map((s) => s.ServiceName).join(", ")]
				.filter((x) => x).join("; ")),
			    h("td", expiry(t)), secret, acts);
		},
	});

	// The list carries the SecretID only for acl:write holders; read
	// the token when it is missing or redacted.
	async function reveal(t, td) {
		let s = t.SecretID;
		if (!s || s === "<hidden>") {
			try {
				s = (await get("/v1/acl/token/" + encodeURIComponent(t.AccessorID), { signal })).data.SecretID;
			} catch (e) {
				return message(p.msg, "error", explain(e));
			}
		}
		const hide = h("button.small", { type: "button", onclick: () => p.rows() }, "Hide");
		render(td, h("code.revealed", s), " ", hide);
		hide.focus();
	}

	function edit(t, clone) {
		message(p.msg);	// the last form's outcome no longer applies
		p.open((done) => tokenForm(t, clone, done));
	}

	render(el,
	    h("div.row", field("Search tokens", p.search,
		"Words matched against accessor, description, policies, roles and services."),
		h("button.primary#tok-new", { type: "button", onclick: () => edit(null, false) }, "New token")),
	    p.formArea, p.msg,
	    p.table(["Accessor", "Description", "Grants", "Expires", "Secret", ""]));
	p.watch("/v1/acl/tokens", signal, () => {
		if (p.msg.querySelector(".error"))
			message(p.msg);
	});
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
