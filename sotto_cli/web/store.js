// What survives a reload: the session (this tab only) and, per user, the conversations and
// their recent messages, so the page shows what it had at once, even offline, and catches up
// from there.

const SESSION_KEY = "sotto.session";
const KEPT_MESSAGES = 200;

export function savedSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY));
  } catch {
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function forgetSession(userId) {
  sessionStorage.removeItem(SESSION_KEY);
  if (userId) localStorage.removeItem(cacheKey(userId));
}

export function loadCache(userId) {
  try {
    return JSON.parse(localStorage.getItem(cacheKey(userId))) || {};
  } catch {
    return {};
  }
}

// conversations: [{id, kind, title, with, unread, lastSeq, have, loaded, messages}]
export function saveCache(userId, cache) {
  const conversations = cache.conversations.map((conversation) => ({
    ...conversation,
    messages: conversation.messages.slice(-KEPT_MESSAGES),
  }));
  try {
    localStorage.setItem(cacheKey(userId), JSON.stringify({ ...cache, conversations }));
  } catch {
    // Storage full or refused: the page still works, it just starts afresh next time.
  }
}

function cacheKey(userId) {
  return `sotto.cache.${userId}`;
}
