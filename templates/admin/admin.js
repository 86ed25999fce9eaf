(function () {
  "use strict";
  var loadedToken = document.querySelector('meta[name="id-token"]').content;
  var bridge = !!(window.shopify && typeof window.shopify.idToken === "function");
  if (!bridge && loadedToken) { document.getElementById("bridge-note").hidden = false; }

  // A fresh session token from App Bridge when it is there, else the one this page was loaded with.
  function token() {
    if (bridge) { return window.shopify.idToken().catch(function () { return loadedToken; }); }
    return Promise.resolve(loadedToken);
  }
  function flash(kind, text, list) {
    var box = document.getElementById("flash");
    box.className = "banner " + kind; box.textContent = text;
    if (list && list.length) {
      var ul = document.createElement("ul");
      list.forEach(function (m) { var li = document.createElement("li"); li.textContent = m; ul.appendChild(li); });
      box.appendChild(ul);
    }
    box.hidden = false; box.scrollIntoView({block: "nearest"});
  }
  function call(method, path, body) {
    return token().then(function (t) {
      var init = {method: method, headers: {"Authorization": "Bearer " + t}};
      if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
      return fetch(path, init);
    }).then(function (r) {
      if (r.status === 204) { return {ok: true, status: 204, data: null}; }
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.status === 401) { data.errors = ["Your session has expired. Open the app again from your Shopify admin."]; }
        return {ok: r.ok, status: r.status, data: data};
      });
    }, function () { return {ok: false, status: 0, data: {errors: ["The app could not be reached. Check your connection and try again."]}}; });
  }
  window.adminApi = call;

  // Links and GET forms carry the session token: give them a fresh one as they are used.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-nav]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey) { return; }
    e.preventDefault();
    token().then(function (t) { var u = new URL(a.href); u.searchParams.set("id_token", t); location.href = u.toString(); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("form.filters"), function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      token().then(function (t) {
        form.elements.id_token.value = t;
        Array.prototype.forEach.call(form.elements, function (el) { if (el.name && el.value === "") { el.disabled = true; } });
        form.submit();
      });
    });
  });

  // Delete an unsent signup.
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-delete]");
    if (!b) { return; }
    if (!window.confirm("Delete this signup? The shopper will not be alerted.")) { return; }
    b.disabled = true;
    call("DELETE", "/app/api/intents/" + b.getAttribute("data-delete")).then(function (r) {
      if (r.ok) { b.closest("tr").remove(); flash("ok", "Signup deleted."); }
      else { b.disabled = false; flash("error", "The signup was not deleted.", r.data.errors); }
    });
  });

  // A file behind the JSON interface (a privacy request's data): fetched with the session token, saved.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-download]");
    if (!a || e.button !== 0) { return; }
    e.preventDefault();
    token().then(function (t) { return fetch(a.getAttribute("href"), {headers: {"Authorization": "Bearer " + t}}); })
      .then(function (r) { if (!r.ok) { throw new Error("status " + r.status); } return r.blob(); })
      .then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob); link.download = a.getAttribute("data-download");
        document.body.appendChild(link); link.click();
        setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
      }).catch(function () { flash("error", "The file could not be downloaded. Reload the page and try again."); });
  });

  // Notify now: a held alert is released, a pending signup gets one; the worker sends it at once.
  function heldLeft(delta) {
    var count = document.getElementById("held-count");
    if (!count) { return; }
    var left = Math.max(0, Number(count.textContent) + delta);
    count.textContent = String(left);
    if (!left) { document.getElementById("held-banner").hidden = true; }
  }
  function markNotified(row) {
    var badge = row.querySelector(".badge"), cell = badge.parentNode;
    var wasHeld = badge.classList.contains("held");
    badge.className = "badge notified"; badge.textContent = "Notified";
    Array.prototype.forEach.call(cell.querySelectorAll(".sub"), function (s) { s.remove(); });
    var note = document.createElement("div"); note.className = "sub"; note.textContent = "alert on its way";
    cell.appendChild(note);
    var actions = row.querySelector(".row-actions"); if (actions) { actions.remove(); }
    return wasHeld;
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-notify]");
    if (!b) { return; }
    b.disabled = true;
    call("POST", "/app/api/intents/" + b.getAttribute("data-notify") + "/notify").then(function (r) {
      if (!r.ok) { b.disabled = false; flash("error", "The alert was not sent.", r.data.errors); return; }
      if (markNotified(b.closest("tr"))) { heldLeft(-1); }
      flash("ok", "The alert is on its way to the shopper.");
    });
  });
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-send-held]");
    if (!b) { return; }
    var count = document.getElementById("held-count").textContent;
    if (!window.confirm("Send all " + count + " held alerts now?")) { return; }
    b.disabled = true;
    call("POST", "/app/api/intents/notify", {all_held: true}).then(function (r) {
      b.disabled = false;
      if (!r.ok) { flash("error", "No alerts were sent.", r.data.errors); return; }
      Array.prototype.forEach.call(document.querySelectorAll(".badge.held"), function (badge) { markNotified(badge.closest("tr")); });
      heldLeft(-r.data.notified);
      flash("ok", r.data.notified + " held alert" + (r.data.notified === 1 ? " is" : "s are") + " on the way." +
            (r.data.held ? " " + r.data.held + " stay held: their signups can no longer be alerted (awaiting opt-in, blocked or unsubscribed)." : ""));
    });
  });

  // CSV exports: fetched with the session token, saved as a file.
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-export]");
    if (!b) { return; }
    b.disabled = true;
    var name = b.getAttribute("data-export");
    token().then(function (t) {
      return fetch("/app/api/export/" + name + location.search.replace(/([?&])(id_token|shop|page|per_page)=[^&]*/g, "$1"),
                   {headers: {"Authorization": "Bearer " + t}});
    }).then(function (r) {
      if (!r.ok) { throw new Error("status " + r.status); }
      return r.blob();
    }).then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob); a.download = name; document.body.appendChild(a); a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }).catch(function () { flash("error", "The export could not be downloaded. Reload the page and try again."); })
      .then(function () { b.disabled = false; });
  });

  // Settings: saved through PUT /app/api/settings; errors shown as the API words them.
  var settings = document.getElementById("settings-form");
  // The message settings the preview renders (admin/preview.py's PREVIEWED).
  var PREVIEWED = ["sender_name", "reply_to", "brand_logo_url", "brand_color"];
  if (settings) {
    settings.addEventListener("submit", function (e) {
      e.preventDefault();
      var f = settings.elements, body = {channels: {}};
      ["double_optin", "skip_over_quantity", "automatic_sending"].forEach(function (n) { body[n] = f[n].checked; });
      ["email", "sms", "push"].forEach(function (c) { body.channels[c] = f["channel_" + c].checked; });
      body.delivery_policy = f.delivery_policy.value;
      ["min_restock_quantity", "batch_interval_seconds", "batch_multiplier"].forEach(function (n) {
        var v = f[n].value.trim(); body[n] = v === "" || isNaN(Number(v)) ? v : Number(v);
      });
      var t = f.high_demand_threshold.value.trim();
      body.high_demand_threshold = t === "" ? null : (isNaN(Number(t)) ? t : Number(t));
      PREVIEWED.forEach(function (n) { body[n] = f[n].value.trim() || null; });
      var save = document.getElementById("save"); save.disabled = true;
      Array.prototype.forEach.call(settings.querySelectorAll("[aria-invalid]"), function (el) { el.removeAttribute("aria-invalid"); });
      call("PUT", "/app/api/settings", body).then(function (r) {
        save.disabled = false;
        if (r.ok) { flash("ok", "Settings saved."); return; }
        // "field: message" from the API, shown with the form's own label and the field marked.
        var messages = (r.data.errors || ["Unexpected answer " + r.status]).map(function (m) {
          var name = m.split(":")[0].replace("channels.", "channel_"), el = f[name];
          if (!el || !el.labels || !el.labels.length) { return m; }
          el.setAttribute("aria-invalid", "true");
          return el.labels[0].textContent.trim() + ":" + m.slice(m.indexOf(":") + 1);
        });
        flash("error", "Nothing was saved. Please fix:", messages);
        var first = settings.querySelector("[aria-invalid=true]"); if (first) { first.focus(); }
      });
    });
    // The preview follows the sender fields as they are typed: rendered by the server's own
    // templates (POST /app/api/settings/preview), nothing saved.
    var previewTimer = null, previewSeq = 0;
    var refreshPreview = function () {
      var seq = ++previewSeq, f = settings.elements;
      var body = {};
      PREVIEWED.forEach(function (n) { body[n] = f[n].value.trim() || null; });
      call("POST", "/app/api/settings/preview", body).then(function (r) {
        if (seq !== previewSeq) { return; }
        var box = document.getElementById("preview");
        if (!r.ok) { box.setAttribute("aria-busy", "false"); document.getElementById("preview-reply-to").textContent = (r.data.errors || []).join("; "); return; }
        var p = r.data;
        document.getElementById("preview-from").textContent = p.email.from;
        document.getElementById("preview-reply-to").textContent = p.email.reply_to || "(no reply-to: replies go to the sender)";
        document.getElementById("preview-subject").textContent = p.email.subject;
        document.getElementById("preview-email").srcdoc = p.email.html;
        document.getElementById("preview-sms").textContent = p.sms.text;
        document.getElementById("preview-sms-count").textContent = p.sms.characters + " characters, " +
          (p.sms.fits_one_segment ? "one SMS segment" : "more than one SMS segment");
      });
    };
    PREVIEWED.forEach(function (n) {
      settings.elements[n].addEventListener("input", function () {
        clearTimeout(previewTimer); previewTimer = setTimeout(refreshPreview, 300);
      });
    });
    var colour = settings.elements.brand_color, pick = document.getElementById("brand_color_pick");
    pick.addEventListener("input", function () { colour.value = pick.value; colour.dispatchEvent(new Event("input")); });
    colour.addEventListener("input", function () { if (/^#[0-9a-fA-F]{6}$/.test(colour.value.trim())) { pick.value = colour.value.trim().toLowerCase(); } });
    var policy = settings.elements.delivery_policy, batchFields = document.getElementById("batch-fields");
    var sync = function () { batchFields.hidden = policy.value !== "batches"; };
    policy.addEventListener("change", sync); sync();
  }
  var testAlert = document.getElementById("send-test-alert");
  if (testAlert) {
    testAlert.addEventListener("click", function () {
      testAlert.disabled = true;
      call("POST", "/app/api/test-alert").then(function (r) {
        testAlert.disabled = false;
        if (!r.ok) { flash("error", "The test alert was not sent.", r.data.errors); return; }
        flash("ok", "The test alert is on its way to your store's contact email.");
      });
    });
  }
  var rotate = document.getElementById("rotate-key");
  if (rotate) {
    rotate.addEventListener("click", function () {
      if (!window.confirm("Create a new API key? The current key stops working at once.")) { return; }
      rotate.disabled = true;
      call("POST", "/app/api/api-key").then(function (r) {
        rotate.disabled = false;
        if (!r.ok) { flash("error", "No new key was made.", r.data.errors); return; }
        var box = document.getElementById("new-key"); box.hidden = false;
        document.getElementById("api-key").textContent = r.data.api_key;
      });
    });
  }
})();
