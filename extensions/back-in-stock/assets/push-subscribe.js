/* Back in stock: the block's browser push subscription (blocks/notify-me.liquid, loaded only where
   push is offered): registers the app's service worker under the app proxy and subscribes with
   the app's VAPID key (a subscription made with another key is replaced). notify-me.js calls
   BackInStockPush.subscribe when a shopper signs up for push. */
(() => {
  'use strict';
  if (window.BackInStockPush) return;
  const keyBytes = (b64) => Uint8Array.from(
    atob(b64.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((b64.length + 3) % 4)), (c) => c.charCodeAt(0));

  async function subscribe(proxy, key) {
    const reg = await navigator.serviceWorker.register(proxy + '/sw.js', { scope: proxy + '/' });
    const sw = reg.installing || reg.waiting;
    if (!reg.active && sw) {
      await new Promise((ok, fail) => sw.addEventListener('statechange', () => {
        if (sw.state === 'activated') ok();
        if (sw.state === 'redundant') fail(new Error('service worker'));
      }));
    }
    const bytes = keyBytes(key);
    let sub = await reg.pushManager.getSubscription();
    const old = sub && sub.options.applicationServerKey;
    if (old && String(new Uint8Array(old)) !== String(bytes)) {
      await sub.unsubscribe();
      sub = null;
    }
    return sub || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes });
  }

  window.BackInStockPush = { subscribe };
})();
