/* Back in stock: the "Notify me when available" block (blocks/notify-me.liquid). Shown while the
   selected variant is sold out; posts through the app proxy on the shop's own origin. Its root
   dispatches back-in-stock:loaded, :submitted and :error (docs/storefront-events.md). */
(() => {
  'use strict';
  if (window.BackInStock) return;
  const PROXY = '/apps/back-in-stock';
  const canPush = 'serviceWorker' in navigator && 'PushManager' in window;
  const blocks = [];
  let config;
  const getConfig = () => config || (config = fetch(PROXY + '/config', { headers: { Accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : {})).catch(() => ({})));

  class Block {
    constructor(root) {
      this.root = root;
      this.form = root.querySelector('[data-bis-form]');
      this.status = root.querySelector('[data-bis-status]');
      this.msg = root.querySelector('[data-bis-messages]').dataset;
      this.button = this.form.querySelector('[type=submit]');
      this.variants = {};
      try {
        JSON.parse(root.querySelector('[data-bis-variants]').textContent)
          .forEach((v) => { this.variants[v.id] = v.available; });
      } catch (e) { /* nothing to follow */ }
      this.offered = (root.dataset.offer || 'email').split(/\s+/).filter(Boolean);
      this.enabled = new Set(this.offered.filter((c) => c !== 'push'));
      this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
      this.form.addEventListener('change', (e) => { if (e.target.name === 'channel') this.showChannel(); });
      this.form.addEventListener('input', (e) => this.clearError(e.target));
      const fromUrl = new URLSearchParams(location.search).get('variant');
      this.setVariant(fromUrl in this.variants ? fromUrl : root.dataset.variantId);
      (this.offered.some((c) => c !== 'email') ? getConfig().then((c) => this.applyConfig(c || {}))
        : Promise.resolve()).then(() => this.emit('loaded'));
    }

    emit(name, more) {
      this.root.dispatchEvent(new CustomEvent('back-in-stock:' + name, { bubbles: true, detail: {
        product: this.form.elements.shopify_product_id.value, variant: this.variant, channel: this.channel(), ...more } }));
    }

    // Offer only what the app can send: SMS needs the app's SMS account, push a VAPID key.
    applyConfig(c) {
      const on = c.channels || {};
      ['email', 'sms'].forEach((name) => { if (on[name] === false) this.enabled.delete(name); });
      if (this.offered.includes('push') && canPush && c.vapid_public_key && on.push !== false) {
        this.key = c.vapid_public_key;
        this.enabled.add('push');
      }
      this.form.querySelectorAll('[data-bis-channel]').forEach((label) => {
        label.hidden = !this.enabled.has(label.dataset.bisChannel);
        label.querySelector('input').disabled = label.hidden;
      });
      this.form.querySelector('[data-bis-channels]').hidden = this.enabled.size < 2;
      if (!this.enabled.size) this.root.dataset.bisOff = '';
      this.root.bisCountries = c.sms_countries; // the SMS countries (sms-field.js)
      if (window.BackInStockSms) window.BackInStockSms.limit(this.root);
      this.showChannel();
      this.refresh();
    }

    channel() {
      const radios = [...this.form.querySelectorAll('[name=channel]:not(:disabled)')];
      const checked = radios.find((r) => r.checked) || radios[0];
      if (checked) checked.checked = true;
      return checked ? checked.value : 'email';
    }

    showChannel() {
      const current = this.channel();
      this.form.querySelectorAll('[data-bis-for]').forEach((group) => {
        group.hidden = group.dataset.bisFor !== current;
        group.querySelectorAll('input, select').forEach((el) => { el.disabled = group.hidden; });
      });
    }

    setVariant(id) {
      id = String(id);
      if (!(id in this.variants)) return;
      if (id !== this.variant) {
        this.variant = id;
        this.form.elements.shopify_variant_id.value = id;
        this.root.removeAttribute('data-done');
        this.say('');
      }
      this.refresh();
    }

    refresh() {
      this.root.hidden = this.variants[this.variant] !== false || 'bisOff' in this.root.dataset;
    }

    say(text, kind) {
      this.status.textContent = text;
      this.status.className = 'bis__status' + (kind ? ' bis__status--' + kind : '');
      if (kind === 'error') this.emit('error', { messages: [text] });
    }

    // A field's error sits beside it (read with it); any other is the status line's.
    errorBox(field) { return field && this.root.querySelector(`[data-bis-error-for="${field.name}"]`); }

    invalid(field, key) {
      const box = this.errorBox(field);
      if (!box) return this.say(this.msg[key], 'error');
      this.say('');
      box.textContent = this.msg[key];
      box.hidden = false;
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-errormessage', box.id);
      field.focus();
      this.emit('error', { messages: [box.textContent] });
    }

    clearError(field) {
      field.removeAttribute('aria-invalid');
      const box = this.errorBox(field);
      if (box) box.hidden = true;
    }

    async submit() {
      if (this.busy) return;
      const channel = this.channel();
      const { email, phone } = this.form.elements;
      const data = new URLSearchParams(new FormData(this.form));
      if (channel === 'email' && !email.value.trim()) return this.invalid(email, 'missingEmail');
      if (channel === 'email' && !/^[^\s@]+@[^\s@]+$/.test(email.value.trim())) return this.invalid(email, 'invalidEmail');
      if (channel === 'sms' && !phone.value.trim()) return this.invalid(phone, 'missingPhone');
      this.busy = true;
      this.button.setAttribute('aria-disabled', 'true');
      this.say(this.msg.sending, 'busy');
      try {
        if (channel === 'push') {
          try {
            data.set('push', JSON.stringify(await window.BackInStockPush.subscribe(PROXY, this.key)));
          } catch (e) {
            return this.invalid(null, 'pushDenied');
          }
        }
        const r = await fetch(PROXY + '/intents', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
          body: data.toString(),
        });
        this.answer(r.status, await r.json().catch(() => ({})), channel);
      } catch (e) {
        this.say(this.msg.error, 'error');
      } finally {
        this.busy = false;
        this.button.removeAttribute('aria-disabled');
      }
    }

    answer(status, body, channel) {
      const { email, phone } = this.form.elements;
      const error = String((body.errors || [])[0] || '');
      if (status === 201) {
        const intent = (body.intents || [])[0] || {};
        let key = 'success';
        if (intent.optin_confirmed === false) key = channel === 'sms' ? 'confirmSms' : 'confirmEmail';
        else if (body.created === false) key = 'already';
        this.root.setAttribute('data-done', '');
        this.say(this.msg[key], 'success');
        this.status.focus();
        this.emit('submitted', { created: body.created !== false });
      } else if (status === 429) {
        this.say(this.msg.tooMany, 'error');
      } else if (status === 200 && error.startsWith('customer.phone')) {
        this.invalid(phone, error.includes('not available') ? 'smsCountry' : 'invalidPhone');
      } else if (status === 200 && error.startsWith('customer.email')) {
        this.invalid(email, 'invalidEmail');
      } else {
        this.say(this.msg.error, 'error');
      }
    }
  }

  // The selected variant: the id a theme event names, else the product form's, else the URL's.
  const sync = (preferUrl) => {
    const fromUrl = new URLSearchParams(location.search).get('variant');
    const inForms = [...document.querySelectorAll('form[action*="/cart/add"] [name=id]')].map((el) => el.value);
    blocks.forEach((b) => {
      const inForm = inForms.find((id) => id in b.variants);
      b.setVariant(preferUrl && fromUrl in b.variants ? fromUrl : inForm || fromUrl);
    });
  };
  const later = (preferUrl) => setTimeout(() => sync(preferUrl), 0);
  const each = (id) => blocks.forEach((b) => b.setVariant(id));

  document.addEventListener('change', (e) => {
    const el = e.target;
    if (el.name === 'id' && el.closest('form[action*="/cart/add"]')) each(el.value);
    else later(false);
  });
  const onEvent = (e) => {
    const d = e.detail || {};
    const v = d.variant || d.selectedVariant || d.variantId || d.id;
    const id = v && typeof v === 'object' ? v.id : v;
    if (id) each(String(id).split('/').pop());
    else later(false);
  };
  ['variant:change', 'variant:changed', 'variantChange', 'variant-change', 'on:variant:change']
    .forEach((name) => window.addEventListener(name, onEvent, true));
  ['pushState', 'replaceState'].forEach((method) => {
    const original = history[method];
    history[method] = function () {
      const result = original.apply(this, arguments);
      later(true);
      return result;
    };
  });
  window.addEventListener('popstate', () => later(true));

  const init = (scope) => (scope || document).querySelectorAll('[data-bis]').forEach((root) => {
    if (!root.bis) blocks.push((root.bis = new Block(root)));
  });
  window.BackInStock = { init };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => init());
  else init();
  document.addEventListener('shopify:section:load', (e) => init(e.target));
})();
