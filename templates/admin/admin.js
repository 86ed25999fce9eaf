(function () {
  "use strict";
  var loadedToken = document.querySelector('meta[name="id-token"]').content;
  var bridge = !!(window.shopify && typeof window.shopify.idToken === "function");
  if (bridge) { document.documentElement.classList.add("bridged"); }
  else if (loadedToken) { document.getElementById("bridge-note").hidden = false; }

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
  // A result: App Bridge's toast in the admin; on its own, the page's banner. Errors with details
  // (a list of what to fix) also stay on the page, where they can be read.
  function notify(kind, text, list) {
    if (bridge && window.shopify.toast) {
      window.shopify.toast.show(text, {isError: kind === "error"});
      if (!(list && list.length)) { document.getElementById("flash").hidden = true; return; }
    }
    flash(kind, text, list);
  }
  // A confirmation: App Bridge's modal in the admin, a <dialog> on its own. Resolves true to go on.
  function confirmFirst(title, text, action, critical) {
    return new Promise(function (resolve) {
      if (bridge && window.shopify.modal) {
        var modal = document.getElementById("confirm-modal"), ok = document.getElementById("confirm-modal-ok");
        var cancel = document.getElementById("confirm-modal-cancel");
        document.getElementById("confirm-modal-title").setAttribute("title", title);
        document.getElementById("confirm-modal-text").textContent = text;
        ok.textContent = action;
        if (critical) { ok.setAttribute("tone", "critical"); } else { ok.removeAttribute("tone"); }
        var done = function (answer) {
          ok.onclick = cancel.onclick = modal.onhide = null;
          window.shopify.modal.hide("confirm-modal"); resolve(answer);
        };
        ok.onclick = function () { done(true); };
        cancel.onclick = function () { done(false); };
        modal.onhide = function () { ok.onclick = cancel.onclick = modal.onhide = null; resolve(false); };
        window.shopify.modal.show("confirm-modal");
        return;
      }
      var dialog = document.getElementById("confirm-dialog"), button = document.getElementById("confirm-dialog-ok");
      document.getElementById("confirm-dialog-title").textContent = title;
      document.getElementById("confirm-dialog-text").textContent = text;
      button.textContent = action;
      button.className = critical ? "primary critical" : "primary";
      dialog.returnValue = "";
      dialog.addEventListener("close", function closed() {
        dialog.removeEventListener("close", closed); resolve(dialog.returnValue === "ok");
      });
      dialog.showModal();
      button.focus();
    });
  }
  window.adminConfirm = confirmFirst;
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

  // Unsaved settings: in the admin, App Bridge's contextual save bar (the form's data-save-bar)
  // holds the merchant on the page; on its own, leaving asks first.
  var leaving = false, savedState = null;
  function formState(form) { return JSON.stringify(Array.prototype.map.call(form.elements, function (el) { return el.type === "checkbox" ? el.checked : el.value; })); }
  function unsaved() {
    var form = document.getElementById("settings-form");
    return !!(form && savedState !== null && formState(form) !== savedState);
  }
  window.addEventListener("beforeunload", function (e) { if (!leaving && unsaved()) { e.preventDefault(); e.returnValue = ""; } });

  // Links and GET forms carry the session token: give them a fresh one as they are used.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-nav]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey) { return; }
    e.preventDefault();
    var go = function () {
      leaving = true;
      token().then(function (t) { var u = new URL(a.href); u.searchParams.set("id_token", t); location.href = u.toString(); });
    };
    if (!unsaved()) { go(); return; }
    confirmFirst("Leave without saving?", "Your changes to the settings will be lost.", "Leave page", true)
      .then(function (leave) { if (leave) { go(); } });
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
    confirmFirst("Delete this signup?", "The shopper will not be alerted, and the signup cannot be brought back.", "Delete", true).then(function (yes) {
      if (!yes) { return; }
      b.disabled = true;
      call("DELETE", "/app/api/intents/" + b.getAttribute("data-delete")).then(function (r) {
        if (r.ok) { b.closest("tr").remove(); notify("ok", "Signup deleted"); }
        else { b.disabled = false; notify("error", "The signup was not deleted.", r.data.errors); }
      });
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
      }).catch(function () { notify("error", "The file could not be downloaded. Reload the page and try again."); });
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
    // Out of stock (as the app last saw it): "it's back" would not be true yet, so ask first.
    var stock = b.getAttribute("data-stock"), product = b.getAttribute("data-product") || "This product";
    var ask = stock !== null && stock !== "" && Number(stock) <= 0
      ? confirmFirst("Send an alert for a product out of stock?", product + " has " + stock + " in stock. The shopper will be told it is back in stock.", "Send anyway", false)
      : Promise.resolve(true);
    ask.then(function (yes) {
      if (!yes) { return; }
      b.disabled = true;
      call("POST", "/app/api/intents/" + b.getAttribute("data-notify") + "/notify").then(function (r) {
        if (!r.ok) { b.disabled = false; notify("error", "The alert was not sent.", r.data.errors); return; }
        if (markNotified(b.closest("tr"))) { heldLeft(-1); }
        notify("ok", "Alert on its way to the shopper");
      });
    });
  });
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-send-held]");
    if (!b) { return; }
    var count = document.getElementById("held-count").textContent;
    var empty = b.getAttribute("data-out-of-stock");  // "Linen Shirt – Blue / M (0 in stock), …"
    var text = "Each waiting shopper gets their back-in-stock alert now." +
      (empty ? " Out of stock now: " + empty + ". Those shoppers will be told it is back although it is not." : "");
    confirmFirst("Send all " + count + " held alerts?", text, empty ? "Send anyway" : "Send all", false).then(function (yes) {
      if (!yes) { return; }
      b.disabled = true;
      call("POST", "/app/api/intents/notify", {all_held: true}).then(function (r) {
        b.disabled = false;
        if (!r.ok) { notify("error", "No alerts were sent.", r.data.errors); return; }
        Array.prototype.forEach.call(document.querySelectorAll(".badge.held"), function (badge) { markNotified(badge.closest("tr")); });
        heldLeft(-r.data.notified);
        var sent = r.data.notified + " held alert" + (r.data.notified === 1 ? "" : "s") + " on the way";
        if (r.data.held) { flash("ok", sent + ". " + r.data.held + " stay held: their signups can no longer be alerted (awaiting opt-in, blocked or unsubscribed)."); }
        else { notify("ok", sent); }
      });
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
    }).catch(function () { notify("error", "The export could not be downloaded. Reload the page and try again."); })
      .then(function () { b.disabled = false; });
  });

  // Settings: saved through PUT /app/api/settings; errors shown as the API words them.
  var settings = document.getElementById("settings-form");
  // The message settings the preview renders (admin/preview.py's PREVIEWED).
  var PREVIEWED = ["sender_name", "reply_to", "brand_logo_url", "brand_color"];
  if (settings) {
    savedState = formState(settings);
    settings.addEventListener("submit", function (e) {
      e.preventDefault();
      var f = settings.elements, body = {channels: {}};
      ["double_optin", "skip_over_quantity", "automatic_sending", "published_only", "resend_on_restock", "weekly_summary"].forEach(function (n) { body[n] = f[n].checked; });
      // The locations whose stock counts: every one ticked is null (all, and any added later).
      var places = settings.querySelectorAll("input[name=location]");
      if (places.length) {
        var ticked = Array.prototype.filter.call(places, function (el) { return el.checked; });
        body.locations = ticked.length === places.length ? null : ticked.map(function (el) { return el.value; });
      }
      ["email", "sms", "push"].forEach(function (c) { body.channels[c] = f["channel_" + c].checked; });
      body.delivery_policy = f.delivery_policy.value;
      ["min_restock_quantity", "batch_interval_seconds", "batch_multiplier"].forEach(function (n) {
        var v = f[n].value.trim(); body[n] = v === "" || isNaN(Number(v)) ? v : Number(v);
      });
      // Reminders: each stage with days set; English texts from the form, other languages kept.
      var kept = JSON.parse(document.getElementById("reminders").dataset.reminders || "[]");
      body.reminders = [];
      [1, 2].forEach(function (n) {
        var days = f["reminder_" + n + "_days"].value.trim();
        if (days === "") { return; }
        var texts = Object.assign({}, (kept[n - 1] || {}).texts || {}), en = {};
        ["subject", "intro", "sms"].forEach(function (k) { var v = f["reminder_" + n + "_" + k].value.trim(); if (v) { en[k] = v; } });
        if (Object.keys(en).length) { texts.en = en; } else { delete texts.en; }
        body.reminders.push({after_days: isNaN(Number(days)) ? days : Number(days), texts: texts});
      });
      ["high_demand_threshold", "sms_cap_per_restock"].forEach(function (n) {
        var t = f[n].value.trim(); body[n] = t === "" ? null : (isNaN(Number(t)) ? t : Number(t));
      });
      PREVIEWED.forEach(function (n) { body[n] = f[n].value.trim() || null; });
      var countries = f.sms_countries.value.split(/[\s,;]+/).filter(Boolean);
      body.sms_countries = countries.length ? countries : null;
      var quiet = [f.sms_quiet_hours.value, f.sms_quiet_end.value];
      body.sms_quiet_hours = quiet[0] || quiet[1] ? quiet.join("-") : null;
      var save = document.getElementById("save"); save.disabled = true;
      Array.prototype.forEach.call(settings.querySelectorAll("[aria-invalid]"), function (el) { el.removeAttribute("aria-invalid"); });
      call("PUT", "/app/api/settings", body).then(function (r) {
        save.disabled = false;
        if (r.ok) { savedState = formState(settings); notify("ok", "Settings saved"); return; }
        if (r.status === 401) { notify("error", "Nothing was saved: your session has expired. Reload the page, or open the app again from your Shopify admin."); return; }
        // "field: message" from the API, shown with the form's own label and the field marked.
        var messages = (r.data.errors || ["Unexpected answer " + r.status]).map(function (m) {
          var name = m.split(":")[0].replace("channels.", "channel_"), el = f[name];
          if (!el || !el.labels || !el.labels.length) { return m; }
          el.setAttribute("aria-invalid", "true");
          var group = el.closest("fieldset"), label = group ? group.querySelector("legend") : el.labels[0];
          return label.textContent.trim() + ":" + m.slice(m.indexOf(":") + 1);
        });
        notify("error", "Nothing was saved. Please fix:", messages);
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
    // Discard (the save bar's, or a reset): the form is back to what was saved; so is the preview.
    settings.addEventListener("reset", function () { setTimeout(function () { sync(); refreshPreview(); }, 0); });
  }
  var testAlert = document.getElementById("send-test-alert");
  if (testAlert) {
    testAlert.addEventListener("click", function () {
      testAlert.disabled = true;
      call("POST", "/app/api/test-alert").then(function (r) {
        testAlert.disabled = false;
        if (!r.ok) { notify("error", "The test alert was not sent.", r.data.errors); return; }
        notify("ok", "Test alert on its way to your store's contact email");
      });
    });
  }
  var rotate = document.getElementById("rotate-key");
  if (rotate) {
    rotate.addEventListener("click", function () {
      confirmFirst("Create a new API key?", "The current key stops working at once: integrations using it must be given the new one.", "Create new key", true).then(function (yes) {
        if (!yes) { return; }
        rotate.disabled = true;
        call("POST", "/app/api/api-key").then(function (r) {
          rotate.disabled = false;
          if (!r.ok) { notify("error", "No new key was made.", r.data.errors); return; }
          var box = document.getElementById("new-key"); box.hidden = false;
          document.getElementById("api-key").textContent = r.data.api_key;
        });
      });
    });
  }
  // Webhooks: the URL is a setting (PUT /app/api/settings); its signing secret is in that answer
  // alone, when made (the URL's first save, or a new one asked for), shown here once.
  var hookForm = document.getElementById("webhook-form");
  if (hookForm) {
    var hookUrl = hookForm.elements.webhook_url, rotateSecret = document.getElementById("rotate-webhook-secret");
    var showSecret = function (r) {
      var box = document.getElementById("webhook-secret-box");
      if (r.data.webhook_secret) { document.getElementById("webhook-secret").textContent = r.data.webhook_secret; box.hidden = false; }
      else { box.hidden = true; }
      document.getElementById("webhook-secret-state").textContent = r.data.webhook_secret_set ? "A signing secret is set." : "No signing secret yet.";
      rotateSecret.hidden = !r.data.webhook_url;
    };
    var saveHook = function (body, done) {
      hookUrl.removeAttribute("aria-invalid");
      call("PUT", "/app/api/settings", body).then(function (r) {
        if (r.ok) { showSecret(r); notify("ok", done); return; }
        var messages = (r.data.errors || ["Unexpected answer " + r.status]).map(function (m) {
          if (m.indexOf("webhook_url:") === 0) { hookUrl.setAttribute("aria-invalid", "true"); return "Webhook URL:" + m.slice(12); }
          return m;
        });
        notify("error", "Nothing was saved. Please fix:", messages);
        if (hookUrl.getAttribute("aria-invalid")) { hookUrl.focus(); }
      });
    };
    hookForm.addEventListener("submit", function (e) {
      e.preventDefault();
      saveHook({webhook_url: hookUrl.value.trim() || null}, hookUrl.value.trim() ? "Webhook URL saved" : "Webhooks turned off");
    });
    rotateSecret.addEventListener("click", function () {
      confirmFirst("Create a new signing secret?", "Webhooks are signed with the new secret at once: your system must be given it.", "Create new secret", true).then(function (yes) {
        if (yes) { saveHook({rotate_webhook_secret: true}, "New signing secret made"); }
      });
    });
  }
})();
