// One tiny helper to build DOM without innerHTML (run and class names are user data).

/**
 * Creates an element. `props` are assigned as properties, except `dataset` and `style` (objects
 * merged into the element's) and `attrs` (set as attributes). `children` are nodes or strings.
 */
export function el(tag, props = {}, children = []) {
  const element = document.createElement(tag);
  const { dataset, style, attrs, ...rest } = props;
  Object.assign(element, rest);
  if (dataset) Object.assign(element.dataset, dataset);
  if (style) Object.assign(element.style, style);
  if (attrs) for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  element.append(...(Array.isArray(children) ? children : [children]));
  return element;
}

/**
 * Sets `target[key] = value` only if it differs. Views redraw every frame while the threshold is
 * dragged, and Chromium dirties layout (or style) on a write even when the value is unchanged.
 * Works for properties (`hidden`, `href`, `value`), `element.dataset` and text nodes (`data`).
 */
export function setIfChanged(target, key, value) {
  if (target[key] !== value) target[key] = value;
}

/**
 * Work that waits for the input to rest (a threshold drag to pause). `wait()` marks `element`
 * `data-stale` and (re)starts a wait of `restMs`, after which `onRest()` runs; `runIfWaiting()` runs
 * it at once when a wait is pending (an export, a part coming into sight); `run()` runs it now in any
 * case; `cancel()` drops a pending wait and the mark (the view was redrawn whole, or is going away).
 * @param {HTMLElement} element
 * @param {number} restMs
 * @param {() => void} onRest
 */
export function createRestWait(element, restMs, onRest) {
  const win = element.ownerDocument.defaultView;
  let timer = null;
  const cancel = () => {
    if (timer !== null) win.clearTimeout(timer);
    timer = null;
    delete element.dataset.stale;
  };
  const run = () => {
    cancel();
    onRest();
  };
  return {
    wait() {
      setIfChanged(element.dataset, "stale", "true"); // once per drag: each write restyles the element
      if (timer !== null) win.clearTimeout(timer);
      timer = win.setTimeout(run, restMs);
    },
    runIfWaiting() {
      if (timer !== null) run();
    },
    run,
    cancel,
  };
}
