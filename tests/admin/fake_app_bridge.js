// A stand-in for Shopify's app-bridge.js (https://cdn.shopify.com/shopifycloud/app-bridge.js),
// served to Chromium in its place: the tests cannot reach Shopify's CDN. It implements what the
// admin's pages use, as App Bridge documents it, and records every call in window.__bridge:
// shopify.idToken(), shopify.toast.show(), shopify.modal.show()/hide() of a <ui-modal> (drawn
// here so a test can press its buttons), the <ui-nav-menu> and <ui-title-bar> it reads, and the
// contextual save bar of a <form data-save-bar> (shown on a change, hidden on submit or reset).
(function () {
  "use strict";
  var record = window.__bridge = {toasts: [], modals: [], saveBar: [], navMenu: [], titles: []};
  window.shopify = {
    config: {apiKey: (document.querySelector('meta[name="shopify-api-key"]') || {}).content},
    // The session token the test gave the admin (window.__bridgeToken), else the page's own.
    idToken: function () {
      var meta = document.querySelector('meta[name="id-token"]');
      return Promise.resolve(window.__bridgeToken || (meta ? meta.content : ""));
    },
    toast: {show: function (message, options) { record.toasts.push({message: message, isError: !!(options && options.isError)}); }},
    modal: {
      show: function (id) {
        var modal = document.getElementById(id);
        record.modals.push({id: id, title: modal.querySelector("ui-title-bar").getAttribute("title"), text: modal.textContent.trim()});
        modal.setAttribute("open", "");
        modal.style.cssText = "display:block;position:fixed;inset:20% 10% auto;background:#fff;z-index:9;border:1px solid #000";
        Array.prototype.forEach.call(modal.querySelectorAll("ui-title-bar, ui-title-bar button"), function (el) { el.style.display = "block"; });
      },
      hide: function (id) {
        var modal = document.getElementById(id);
        if (!modal.hasAttribute("open")) { return; }
        modal.removeAttribute("open"); modal.style.cssText = "";
        if (typeof modal.onhide === "function") { modal.onhide(); }
      }
    }
  };
  ["ui-nav-menu", "ui-title-bar", "ui-modal", "ui-save-bar"].forEach(function (name) {
    customElements.define(name, class extends HTMLElement {});
  });
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("ui-nav-menu a"), function (a) {
      record.navMenu.push({label: a.textContent, href: a.getAttribute("href"), rel: a.getAttribute("rel")});
    });
    Array.prototype.forEach.call(document.querySelectorAll("body > * ui-title-bar, body > ui-title-bar, .layout > ui-title-bar"), function (bar) {
      if (!bar.closest("ui-modal")) { record.titles.push(bar.getAttribute("title")); }
    });
    Array.prototype.forEach.call(document.querySelectorAll("form[data-save-bar]"), function (form) {
      var show = function () { if (record.saveBar[record.saveBar.length - 1] !== "show") { record.saveBar.push("show"); } };
      form.addEventListener("input", show); form.addEventListener("change", show);
      form.addEventListener("submit", function () { record.saveBar.push("hide"); });
      form.addEventListener("reset", function () { record.saveBar.push("hide"); });
    });
  });
})();
