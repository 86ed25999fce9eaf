/* Back in stock: the service worker behind browser notifications, served through the app proxy
   at /apps/back-in-stock/sw.js (scope /apps/back-in-stock/). It only shows what the app pushes:
   {"title", "body", "url", "image", "tag"}, and opens `url` when the notification is clicked. */
'use strict';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

const safeUrl = (value) => {
  try {
    const url = new URL(value, self.location.origin);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch (e) {
    return null;
  }
};

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : '' };
  }
  const options = { body: data.body || '', data: { url: safeUrl(data.url) } };
  if (data.tag) options.tag = String(data.tag);
  const image = safeUrl(data.image);
  if (image) {
    options.icon = image;
    options.image = image;
  }
  event.waitUntil(self.registration.showNotification(data.title || 'Back in stock', options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url;
  if (!url) return;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => w.url === url && 'focus' in w);
      return open ? open.focus() : self.clients.openWindow(url);
    })
  );
});
