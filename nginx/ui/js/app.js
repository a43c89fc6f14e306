// app.js -- the router: location.hash names the page ("#/tokens");
// each page module exports title and mount(el, signal).  Leaving a
// page aborts its signal, which ends its blocking queries.

import { session, get } from "./api.js";
import { h, render } from "./dom.js";
import * as login from "./pages/login.js";
import * as intentions from "./pages/intentions.js";
import * as tokens from "./pages/tokens.js";
import * as policies from "./pages/policies.js";
import * as roles from "./pages/roles.js";
import * as authmethods from "./pages/authmethods.js";
import * as ca from "./pages/ca.js";
import * as activity from "./pages/activity.js";

const pages = { login, intentions, tokens, policies, roles,
    "auth-methods": authmethods, ca, activity };
let current = null;

function route() {
	let name = location.hash.replace(/^#\/?/, "").split("/")[0];
	if (!session.token() && name !== "login")
		name = "login";
	if (!pages[name])
		name = session.token() ? "intentions" : "login";
	if (location.hash !== "#/" + name)	// show where we are
		history.replaceState(null, "", "#/" + name);
	if (current)
		current.abort();
	current = new AbortController();
	const page = pages[name];
	document.title = page.title + " - Portcullis";
	for (const a of document.querySelectorAll("nav a"))
		if (a.getAttribute("href") === "#/" + name)
			a.setAttribute("aria-current", "page");
		else
			a.removeAttribute("aria-current");
	const main = document.getElementById("main");
	const heading = h("h1", { tabindex: "-1" }, page.title);
	const body = h("div.page");
	render(main, heading, body);
	heading.focus();
	page.mount(body, current.signal);
	who();
}

// The header's "logged in" part: the token's description and a
// Log out button, or nothing on the login page.
let whoFor = null;
async function who() {
	const el = document.getElementById("who");
	const t = session.token();
	if (!t) {
		whoFor = null;
		return render(el);
	}
	if (whoFor === t)
		return;
	whoFor = t;
	const out = h("button#logout", { type: "button", onclick: logout }, "Log out");
	render(el, out);
	try {
		const r = await get("/v1/acl/token/self");
		render(el, h("span.me", { title: r.data.AccessorID },
		    r.data.Description || r.data.AccessorID), " ", out);
	} catch {
		render(el, out);
	}
}

export function logout() {
	session.clear();
	whoFor = null;
	location.hash = "#/login";
	route();
}

window.addEventListener("hashchange", route);
const back = new URLSearchParams(location.search);
if (back.has("state") || back.has("error"))	// an OIDC provider sent us back
	login.finishOidc(back).then(route);
else
	route();
