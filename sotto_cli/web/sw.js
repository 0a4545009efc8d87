// The page's files, cached as they are fetched, so that a reload without network still shows
// the page (and what it had); the network always comes first, so a new version shows at once.
const CACHE = "sotto-web-2";
const SHELL = [
  "./", "index.html", "style.css", "config.json", "app.js", "cognito.js", "conversations.js",
  "player.js", "recorder.js", "sending.js", "shared.js", "socket.js", "store.js", "timeline.js",
  "verify.js", "view.js", "words.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const scope = new URL(self.registration.scope);
  if (event.request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) {
    return; // the APIs, Cognito and the clips go straight to the network
  }
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || Response.error())),
  );
});
