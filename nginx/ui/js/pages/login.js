// login.js -- two ways in.  Paste an ACL token: checked with
// token/self, kept in sessionStorage (this tab only), sent as
// X-Consul-Token.  Or an oidc auth method: oidc/auth-url sends the
// browser to the provider, which comes back to /ui/?code=&state=;
// finishOidc() trades those for a token through oidc/callback.

import { session, get, post } from "../api.js";
import { h, render, field, message, explain } from "../dom.js";

export const title = "Log in";

const PENDING = "portcullis.oidc";	// {method, nonce} between the two
let oidcError = "";			// shown on the login page once

// The redirect URI of this UI (list it in the method's
// AllowedRedirectURIs).
export const redirectURI = () => location.origin + "/ui/";

function nonce() {
	const b = new Uint8Array(24);
	crypto.getRandomValues(b);
	return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

// Called by app.js when the page was opened with ?code=&state= (or
// ?error=): finishes a pending OIDC login.  Leaves the token in the
// session on success, an error for the login page otherwise; removes
// the query from the address bar either way.
export async function finishOidc(params) {
	const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
	sessionStorage.removeItem(PENDING);
	history.replaceState(null, "", location.pathname + "#/login");
	if (params.has("error"))
		return void (oidcError = "The identity provider refused the login: " +
		    params.get("error") + (params.get("error_description") ?
		    " (" + params.get("error_description") + ")" : ""));
	if (!pending)
		return void (oidcError = "No login through an auth method was pending in this tab.");
	try {
		const r = await post("/v1/acl/oidc/callback", {
			AuthMethod: pending.method, State: params.get("state") || "",
			Code: params.get("code") || "", ClientNonce: pending.nonce,
		});
		session.set(r.data.SecretID);
		history.replaceState(null, "", location.pathname + "#/intentions");
	} catch (e) {
		oidcError = "Login through " + pending.method + " failed: " + explain(e);
	}
}

export function mount(el, signal) {
	const input = h("input#login-token", {
		type: "password", autocomplete: "off", spellcheck: "false",
		required: true, size: 40,
	});
	const msg = h("div#login-msg", { "aria-live": "polite" });
	const form = h("form#login-form", { "aria-label": "Log in with a token" },
	    h("h2", "With a token"),
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

	const method = h("input#login-method", { type: "text", required: true,
	    list: "login-methods", autocomplete: "off" });
	const methods = h("datalist#login-methods");
	const omsg = h("div#oidc-msg", { "aria-live": "polite" });
	const oform = h("form#oidc-form", { "aria-label": "Log in with an auth method" },
	    h("h2", "With an OIDC auth method"),
	    field("Auth method name", method,
		"This UI's redirect URI, to list in the method's AllowedRedirectURIs: " + redirectURI()),
	    methods, h("button", { type: "submit" }, "Continue to the identity provider"), omsg);
	oform.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const name = method.value.trim();
		const n = nonce();
		try {
			const r = await post("/v1/acl/oidc/auth-url", {
				AuthMethod: name, RedirectURI: redirectURI(), ClientNonce: n,
			}, { signal });
			sessionStorage.setItem(PENDING, JSON.stringify({ method: name, nonce: n }));
			location.assign(r.data.AuthURL);
		} catch (e) {
			message(omsg, "error", explain(e));
		}
	});
	// The methods are listed only when the current token (or the
	// anonymous one) may read them; else the name is typed.
	get("/v1/acl/auth-methods", { signal }).then((r) => {
		render(methods, (r.data || []).filter((m) => m.Type === "oidc")
		    .map((m) => h("option", { value: m.Name }, m.DisplayName || m.Name)));
	}, () => {});

	render(el, session.token() ?
	    h("p.msg.info", "You are logged in; logging in again replaces the token.") : null,
	    form, oform);
	if (oidcError) {
		message(omsg, "error", oidcError);
		oidcError = "";
	}
	input.focus();
}
