// login.js -- paste an ACL token: it is checked with token/self, kept
// in sessionStorage (this tab only) and sent as X-Consul-Token.

import { session, get } from "../api.js";
import { h, render, field, message } from "../dom.js";

export const title = "Log in";

export function mount(el, signal) {
	const input = h("input#login-token", {
		type: "password", autocomplete: "off", spellcheck: "false",
		required: true, size: 40,
	});
	const msg = h("div#login-msg", { "aria-live": "polite" });
	const form = h("form#login-form",
	    field("ACL token (SecretID)", input,
		"Kept in this browser tab only (sessionStorage) and sent as the X-Consul-Token header."),
	    h("button.primary", { type: "submit" }, "Log in"), msg);
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const t = input.value.trim();
		if (!t)
			return;
		session.set(t);
		try {
			await get("/v1/acl/token/self", { signal });
		} catch (e) {
			if (e.status !== 401) {	// 401: ACLs off, any token goes
				session.clear();
				message(msg, "error", "This token was refused: " + e.message);
				input.focus();
				return;
			}
		}
		location.hash = "#/intentions";
	});
	render(el, session.token() ?
	    h("p.msg.info", "You are logged in; logging in again replaces the token.") : null,
	    form);
	input.focus();
}
