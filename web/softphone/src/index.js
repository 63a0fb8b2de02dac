// callbridge softphone widget: <callbridge-softphone server="wss://…/v1/ws" token-url="/my/token">.
//
// The package's entry point. Importing it defines the element (once) and
// exports its class and helpers; docs/WIDGET.md describes the API and
// softphone.d.ts types it. The bridge serves these modules bundled into
// one file, /softphone.js (go generate ./web).

import { CallbridgeSoftphone } from './element.js';

export { CallbridgeSoftphone } from './element.js';
export { bindClickToCall, telNumber } from './clicktocall.js';
export { ERROR_TEXT, STRINGS, causeText } from './strings.js';
export { VERSION } from './protocol.js';

if (!customElements.get('callbridge-softphone')) customElements.define('callbridge-softphone', CallbridgeSoftphone);
