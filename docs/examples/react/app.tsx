// The softphone in a React app (React 19: custom elements take attributes
// and events as they are). `npm install @callbridge/softphone react react-dom`.
import { useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import '@callbridge/softphone';
import type { CallbridgeSoftphone, CallbridgeSoftphoneAttributes, CallState, ConnectionStatus } from '@callbridge/softphone';

// <callbridge-softphone> in JSX, with its typed attributes.
declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'callbridge-softphone': React.DetailedHTMLProps<React.HTMLAttributes<CallbridgeSoftphone>, CallbridgeSoftphone> & CallbridgeSoftphoneAttributes;
    }
  }
}

const BRIDGE = 'wss://bridge.example.com/v1/ws';
const contacts = [
  { id: 'c-1', name: 'Ada Lovelace', phone: '+15550100002' },
  { id: 'c-2', name: 'Alan Turing', phone: '+15550100001' },
];

function Contacts() {
  const phone = useRef<CallbridgeSoftphone>(null);
  const [status, setStatus] = useState<ConnectionStatus>('offline');
  const [call, setCall] = useState<CallState | null>(null);

  useEffect(() => {
    const el = phone.current;
    if (!el) return;
    const onStatus = (e: CustomEvent<{ status: ConnectionStatus }>) => setStatus(e.detail.status);
    const onState = (e: CustomEvent<CallState>) => setCall(e.detail.state === 'ended' ? null : e.detail);
    el.addEventListener('connectionchange', onStatus);
    el.addEventListener('statechange', onState);
    return () => {
      el.removeEventListener('connectionchange', onStatus);
      el.removeEventListener('statechange', onState);
    };
  }, []);

  const dial = (c: (typeof contacts)[number]) => {
    phone.current?.call(c.phone, { metadata: { contact_id: c.id } }).catch((err: Error & { code?: string }) => {
      console.warn('call refused', err.code, err.message);
    });
  };

  return (
    <main>
      <h1>Contacts</h1>
      <p className="phone-status">Phone: {status}{call ? ` · ${call.state} ${call.to}` : ''}</p>
      <ul>
        {contacts.map((c) => (
          <li key={c.id}>
            {c.name} <button type="button" disabled={status !== 'ready' || !!call} onClick={() => dial(c)}>Call {c.phone}</button>
          </li>
        ))}
      </ul>
      <callbridge-softphone ref={phone} server={BRIDGE} token-url="/crm/softphone-token" lang="en" />
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<Contacts />);
