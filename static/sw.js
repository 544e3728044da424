/**
 * Ziffer's service worker: keeps the page itself (HTML, CSS, the bundle)
 * available offline. Network first, so a deploy is seen on the next load;
 * the cached copy is used only when the network fails.
 *
 * Model files are not handled here: the page keeps them in the Cache API
 * itself ("ziffer-models-v1", see src/web/predictor.ts), and API requests go
 * to the network untouched.
 */

/// <reference lib="webworker" />

const SHELL_CACHE = "ziffer-shell-v1";
const SHELL = ["/", "/style.css", "/app.js", "/favicon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = url.pathname === "/index.html" ? "/" : url.pathname;
  if (!SHELL.includes(path)) return;
  event.respondWith(
    fetch(request).then((response) => {
      if (response.ok) {
        const copy = response.clone();
        event.waitUntil(
          caches.open(SHELL_CACHE).then((cache) => cache.put(path, copy)),
        );
      }
      return response;
    }).catch(async () => {
      const cached = await caches.match(path);
      return cached ?? Response.error();
    }),
  );
});
