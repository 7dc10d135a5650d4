// Keeps the tab live: asks for new epochs and runs on its own (quickly while they keep coming,
// backing off to TensorBoard's 30 s reload period while nothing changes), and at once when
// TensorBoard's reload button or its auto-reload fires.

/** The poll period right after the tags changed (training is writing epochs). */
export const POLL_MIN_MS = 5000;
/** The longest poll period, reached while nothing changes: TensorBoard's own auto-reload period. */
export const POLL_MAX_MS = 30000;

/**
 * The delay before the next poll: POLL_MIN_MS after a change, else the previous delay doubled, up to
 * POLL_MAX_MS (5, 10, 20, 30, 30 … s). A new epoch is seen within the period it came in.
 */
export function nextPollDelay(previousDelay, changed) {
  return changed ? POLL_MIN_MS : Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, previousDelay * 2));
}

// The messages TensorBoard 2.x sends to iframed plugins (its `experimental` plugin library): the
// iframe posts "experimental.bootstrap" with a MessagePort to the host page, which then sends JSON
// {type, id, payload, isReply} messages through that port and waits for a reply to each.
const BOOTSTRAP = "experimental.bootstrap";
const DATA_RELOADED = "experimental.DataReloaded";
const RUNS_CHANGED = "experimental.RunsChanged";

/**
 * Calls `onReload()` whenever the TensorBoard page around the iframe reloads its data (reload
 * button, auto-reload) or its list of runs changes. Outside TensorBoard (no parent page) it does
 * nothing.
 * @returns {() => void} stops listening
 */
export function listenToHostReload(win, onReload) {
  if (!win.parent || win.parent === win || typeof win.MessageChannel !== "function") return () => {};
  const channel = new win.MessageChannel();
  const port = channel.port1;
  port.onmessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return; // not one of TensorBoard's messages
    }
    if (!message || message.isReply) return;
    // The host awaits an answer to each message it sends.
    port.postMessage(JSON.stringify({ type: message.type, id: message.id, payload: null, error: null, isReply: true }));
    if (message.type === DATA_RELOADED || message.type === RUNS_CHANGED) onReload();
  };
  win.parent.postMessage(BOOTSTRAP, "*", [channel.port2]);
  return () => port.close();
}

/**
 * Runs `refresh()` (a promise of "did anything change?") now and then: after `nextPollDelay`, at
 * once on `refreshNow()`, never two at a time, and not while the page is hidden (it refreshes when
 * it is shown again).
 * @param {() => Promise<boolean>} refresh
 * @returns {{start(): void, refreshNow(): void, stop(): void}}
 */
export function createPoller(refresh, win = window) {
  let delay = POLL_MIN_MS;
  let timer = null;
  let running = false;
  let again = false;
  let stopped = false;
  const doc = win.document;

  const schedule = () => {
    if (timer !== null) win.clearTimeout(timer);
    timer = stopped || doc.hidden ? null : win.setTimeout(run, delay);
  };
  async function run() {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    let changed = false;
    try {
      changed = await refresh();
    } catch {
      changed = false; // the refresh reports its own errors; keep polling
    }
    running = false;
    delay = nextPollDelay(delay, changed);
    if (again) {
      again = false;
      run();
      return;
    }
    schedule();
  }
  const onVisibility = () => {
    if (doc.hidden) schedule();
    else run();
  };
  return {
    start() {
      doc.addEventListener("visibilitychange", onVisibility);
      schedule();
    },
    refreshNow() {
      if (timer !== null) win.clearTimeout(timer);
      timer = null;
      run();
    },
    stop() {
      stopped = true;
      if (timer !== null) win.clearTimeout(timer);
      doc.removeEventListener("visibilitychange", onVisibility);
    },
  };
}
