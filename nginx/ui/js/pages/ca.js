// ca.js -- the Connect CA: roots with their expiry (the active one
// marked, live through blocking queries), a rotation to a new key type
// or size (confirmed first), the CA configuration (reading it needs
// operator:write), and revocation: the CRL's serials and PEM text with
// a download link, and a revoke form (confirmed first).

import { get, put, watch } from "../api.js";
import { h, render, field, message, explain, confirmIn, when, names, DAY } from "../dom.js";

export const title = "Certificate authority";

const BITS = { ec: [224, 256, 384, 521], rsa: [2048, 4096] };

export function mount(el, signal) {
	const rootsMsg = h("div#ca-roots-msg");
	const roots = h("div#ca-roots");
	const rotateArea = h("div#ca-rotate-area");
	const rotateMsg = h("div#ca-rotate-msg");
	const cfgMsg = h("div#ca-config-msg");
	const cfg = h("div#ca-config");
	const crlMsg = h("div#ca-crl-msg");
	const crl = h("div#ca-crl");
	let active = null;	// the active root, for the rotation form

	const rotateBtn = h("button#ca-rotate", { type: "button", onclick: () => {
		render(rotateArea, rotateForm(active, (text, kind) => {
			render(rotateArea);
			message(rotateMsg, kind || "ok", text);
			loadConfig();
		}));
		rotateArea.querySelector("select").focus();
	} }, "Rotate the root…");

	render(el, h("h2", "Roots"), rootsMsg, roots,
	    h("div.row", rotateBtn), rotateArea, rotateMsg,
	    h("h2", "Configuration"), cfgMsg, cfg,
	    h("h2", "Revocation"), revokeForm(() => loadCrl()),
	    h("h3", "Certificate revocation list"), crlMsg, crl);
	watch("/v1/connect/ca/roots", {}, (d) => {
		message(rootsMsg);
		active = (d.Roots || []).find((r) => r.ID === d.ActiveRootID) || null;
		render(roots,
		    h("p", "Trust domain: ", h("code#ca-trust-domain", d.TrustDomain)),
		    h("table#ca-roots-table",
			h("thead", h("tr", ["Name", "ID", "Key", "Valid from", "Expires", ""]
			    .map((x) => h("th", { scope: "col" }, x)))),
			h("tbody", (d.Roots || []).map((r) => {
				const left = new Date(r.NotAfter) - Date.now();
				return h("tr", { "data-id": r.ID, class: r.ID === d.ActiveRootID ? "active" : false },
				    h("td", r.Name), h("td", h("code", r.ID)),
				    h("td", (r.PrivateKeyType || "") + " " + (r.PrivateKeyBits || "")),
				    h("td", when(r.NotBefore).replace(/ \(.*\)$/, "")),
				    h("td", when(r.NotAfter), left < 30 * DAY ? [" ", h("span.tag.soon", "expires within 30 days")] : null),
				    h("td", r.ID === d.ActiveRootID ? h("span.tag.active", "active") :
					h("span.muted", "rotated out")));
			}))));
		loadCrl();	// a new root signs a new CRL
	}, (e) => message(rootsMsg, "error", explain(e)), signal);

	function loadConfig() {
		get("/v1/connect/ca/configuration", { signal }).then((r) => {
			message(cfgMsg);
			render(cfg, h("p", "Provider: ", h("strong", r.data.Provider)),
			    h("table#ca-config-table", h("tbody",
				Object.entries(r.data.Config || {}).map(([k, v]) =>
				    h("tr", h("th", { scope: "row" }, k), h("td", h("code", typeof v === "string" ? v : JSON.stringify(v))))))));
		}, (e) => {
			if (e.name !== "AbortError")
				message(cfgMsg, "error", explain(e));
		});
	}

	let crlUrl = null;
	signal.addEventListener("abort", () => crlUrl && URL.revokeObjectURL(crlUrl));
	function loadCrl() {
		get("/v1/connect/ca/crl", { query: { pem: "true" }, signal }).then((r) => {
			message(crlMsg);
			const pem = typeof r.data === "string" ? r.data : "";
			let list;
			try {
				list = crlEntries(pem);
			} catch {
				list = null;
			}
			if (crlUrl)
				URL.revokeObjectURL(crlUrl);
			crlUrl = URL.createObjectURL(new Blob([pem], { type: "application/x-pem-file" }));
			render(crl,
			    list === null ? h("p.muted", "The CRL could not be read here; its PEM text is below.") :
			    !list.length ? h("p#ca-crl-none.muted", "No certificate is revoked.") :
			    h("table#ca-crl-serials",
				h("thead", h("tr", ["Revoked serial", "Revoked at"].map((x) => h("th", { scope: "col" }, x)))),
				h("tbody", list.map((x) => h("tr", { "data-serial": x.serial },
				    h("td", h("code", x.serial)), h("td", x.when))))),
			    h("div.field", h("label", { for: "ca-crl-text" }, "CRL (PEM)"),
				h("textarea#ca-crl-text.code", { readonly: true, spellcheck: "false", value: pem })),
			    h("p", h("a#ca-crl-download", { href: crlUrl, download: "portcullis-crl.pem" },
				"Download the CRL (PEM)")));
		}, (e) => {
			if (e.name !== "AbortError")
				message(crlMsg, "error", explain(e));
		});
	}

	loadConfig();
}

// The rotation form: key type and bits, then a confirmation.  The
// stored Config is replaced by the body's, so the current one is read
// first and kept; only PrivateKeyType/Bits change.  done(text, kind).
function rotateForm(active, done) {
	const cur = active ? active.PrivateKeyType + " " + active.PrivateKeyBits : "";
	const type = h("select#ca-key-type", Object.keys(BITS).map((t) => h("option", { value: t }, t)));
	const bits = h("select#ca-key-bits");
	const fillBits = () => {
		render(bits, BITS[type.value].map((b) => h("option", { value: b }, String(b))));
		// Offer a change by default: the same key keeps the root.
		const other = BITS[type.value].find((b) => type.value + " " + b !== cur &&
		    (type.value !== "ec" || b >= 256));
		bits.value = String(other);
	};
	type.addEventListener("change", fillBits);
	fillBits();
	const msg = h("div#ca-rotate-form-msg");
	const buttons = h("div.row", h("button.primary", { type: "submit" }, "Rotate…"),
	    h("button", { type: "button", onclick: () => done() }, "Cancel"));
	const form = h("form#ca-rotate-form", { "aria-label": "Rotate the root" },
	    h("h2", "Rotate the root"),
	    h("p.muted", "A new root with a new key; the old one cross-signs it and stays trusted " +
		"until it is pruned. Leaves are re-signed by the new root as they are fetched." +
		(cur ? " The active root uses " + cur + "." : "")),
	    h("div.row", field("Key type", type), field("Key bits", bits)),
	    msg, buttons);
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		message(msg);
		const want = type.value + " " + bits.value;
		if (want === cur)
			return message(msg, "error", "The active root already uses " + cur +
			    "; the same key type and size do not rotate. Choose another.");
		confirmIn(buttons, "Rotate the CA root to a new " + want + " key?", () => rotate(want), "Yes, rotate");
	});
	async function rotate(want) {
		try {
			const before = active ? active.ID : "";
			const c = (await get("/v1/connect/ca/configuration")).data;
			await put("/v1/connect/ca/configuration", { Provider: c.Provider || "consul",
			    Config: { ...(c.Config || {}), PrivateKeyType: type.value,
				PrivateKeyBits: Number(bits.value) } });
			const r = (await get("/v1/connect/ca/roots")).data;
			if (r.ActiveRootID === before)
				done("Saved, but the active root did not change.", "info");
			else
				done("Rotated: the new active root is " + r.ActiveRootID + " (" + want + ").");
		} catch (e) {
			message(msg, "error", explain(e, "operator:write"));
		}
	}
	return form;
}

// The revoke form: a service's unexpired leaves, or serial numbers;
// confirmed before the PUT.  onDone() reloads the CRL.
function revokeForm(onDone) {
	const by = h("select#ca-revoke-by",
	    h("option", { value: "service" }, "all unexpired leaves of a service"),
	    h("option", { value: "serials" }, "serial numbers"));
	const svc = h("input#ca-revoke-service", { type: "text", placeholder: "web" });
	const serials = h("input#ca-revoke-serials", { type: "text", size: 50,
	    placeholder: "3c:1a:07, 3c:1a:08" });
	const svcField = field("Service", svc);
	const serField = field("Serial numbers (comma-separated)", serials);
	const show = () => {
		svcField.hidden = by.value !== "service";
		serField.hidden = by.value !== "serials";
	};
	by.addEventListener("change", show);
	show();
	const msg = h("div#ca-revoke-msg");
	const buttons = h("div.row", h("button.danger", { type: "submit" }, "Revoke…"));
	const form = h("form#ca-revoke-form", { "aria-label": "Revoke certificates" },
	    h("div.row", field("Revoke", by), svcField, serField), msg, buttons);
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		message(msg);
		let body, what;
		if (by.value === "service") {
			const s = svc.value.trim();
			if (!s)
				return message(msg, "error", "Name the service whose leaves to revoke.");
			body = { Service: s };
			what = "every unexpired leaf certificate of " + s;
		} else {
			const list = names(serials.value);
			if (!list.length)
				return message(msg, "error", "Give at least one serial number.");
			body = { SerialNumbers: list };
			what = list.length + " certificate" + (list.length > 1 ? "s" : "");
		}
		confirmIn(buttons, "Revoke " + what + "? This cannot be undone.", async () => {
			try {
				const r = (await put("/v1/connect/ca/revoke", body)).data;
				const got = (r && r.SerialNumbers) || [];
				message(msg, "ok", got.length ? "Revoked " + got.join(", ") + "." :
				    "Nothing to revoke.");
				onDone();
			} catch (e) {
				message(msg, "error", explain(e, "operator:write"));
			}
		}, "Yes, revoke");
	});
	return form;
}

// The revoked serials of a PEM CRL: [{serial: "3c:1a", when}].  A small
// DER walk of CertificateList -> tbsCertList -> revokedCertificates.
// Throws on anything it cannot read.
function crlEntries(pem) {
	const m = pem.match(/-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/);
	if (!m)
		throw new Error("no CRL");
	const bin = atob(m[1].replace(/\s+/g, ""));
	const b = Uint8Array.from(bin, (c) => c.charCodeAt(0));
	// tlv(at) -> {tag, start (of contents), end}
	const tlv = (at) => {
		const tag = b[at];
		let len = b[at + 1], p = at + 2;
		if (len & 0x80) {
			const n = len & 0x7f;
			if (n < 1 || n > 4)
				throw new Error("bad length");
			len = 0;
			for (let i = 0; i < n; i++)
				len = len * 256 + b[p++];
		}
		if (p + len > b.length)
			throw new Error("truncated");
		return { tag, start: p, end: p + len };
	};
	const kids = (x) => {
		const out = [];
		for (let p = x.start; p < x.end; p = out[out.length - 1].end)
			out.push(tlv(p));
		return out;
	};
	const outer = tlv(0);
	const tbs = kids(outer)[0];
	let f = kids(tbs);
	if (f[0].tag === 0x02)		// version
		f = f.slice(1);
	// signature, issuer, thisUpdate, [nextUpdate], [revoked], [0] exts
	let i = 3;
	if (f[i] && (f[i].tag === 0x17 || f[i].tag === 0x18))
		i++;
	if (!f[i] || f[i].tag !== 0x30)
		return [];
	const time = (x) => {
		let s = String.fromCharCode(...b.slice(x.start, x.end));
		if (x.tag === 0x17)
			s = (Number(s.slice(0, 2)) < 50 ? "20" : "19") + s;
		return s.slice(0, 4) + "-" + s.slice(4, 6) + "-" + s.slice(6, 8) + " " +
		    s.slice(8, 10) + ":" + s.slice(10, 12) + " UTC";
	};
	return kids(f[i]).map((e) => {
		const [ser, at] = kids(e);
		let bytes = [...b.slice(ser.start, ser.end)];
		while (bytes.length > 1 && bytes[0] === 0)
			bytes = bytes.slice(1);
		return { serial: bytes.map((x) => x.toString(16).padStart(2, "0")).join(":"),
		    when: time(at) };
	});
}
