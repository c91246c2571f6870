// What the page knows: filled by the socket's snapshot, kept current by its pushes.
export const state = {
  agent: null,
  statuses: [],
  declineReasons: [],
  queues: [],
  colleagues: [], // the other agents, to give a case to
  offers: new Map(),
  cases: new Map(),
  promises: {}, // case id -> earliest open follow-up promise (ISO time)
  openCaseId: null,
};

// Unread customer replies: the time each case was last looked at, kept in
// this browser so a reload does not mark everything unread again.
const SEEN_KEY = "switchboard.seen";
const seen = JSON.parse(localStorage.getItem(SEEN_KEY) || "{}");

export function markSeen(caseId) {
  seen[caseId] = new Date().toISOString();
  localStorage.setItem(SEEN_KEY, JSON.stringify(seen));
}

export function isUnread(c) {
  if (!c.last_customer_message_at || state.openCaseId === c.id) return false;
  const lastSeen = seen[c.id];
  return !lastSeen || Date.parse(c.last_customer_message_at) > Date.parse(lastSeen);
}
