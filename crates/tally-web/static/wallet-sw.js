// The wallet's service worker: pages are fetched from the network first and kept in a cache,
// so without a network the member still sees the last card (with its QR code) they opened; and
// a push message from the program is shown as a notification that opens the wallet.
const CACHE = "tally-wallet-v1";
const SHELL = ["/static/tally.css", "/static/wallet.js", "/static/wallet-icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request).then((hit) => hit || caches.match("/wallet")))
  );
});

self.addEventListener("push", (event) => {
  const message = event.data ? event.data.json() : {};
  event.waitUntil(
    self.registration.showNotification(message.title || "Tally", {
      body: message.body || "",
      tag: message.tag,
      icon: "/static/wallet-icon-192.png",
      data: { url: message.url || "/wallet" },
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});
