// The softphone in a Vue 3 app. Tell Vue's template compiler that
// callbridge-softphone is a custom element (isCustomElement), as a
// vite.config would with `compilerOptions.isCustomElement`.
// `npm install @callbridge/softphone vue`.
import { createApp, defineComponent, onMounted, onBeforeUnmount, ref } from 'vue';
import '@callbridge/softphone';
import type { CallbridgeSoftphone, CallEndedDetail, ConnectionStatus } from '@callbridge/softphone';

const BRIDGE = 'wss://bridge.example.com/v1/ws';

const Contacts = defineComponent({
  setup() {
    const phone = ref<CallbridgeSoftphone | null>(null);
    const status = ref<ConnectionStatus>('offline');
    const lastEnded = ref<CallEndedDetail | null>(null);
    const contacts = [
      { id: 'c-1', name: 'Ada Lovelace', phone: '+15550100002' },
      { id: 'c-2', name: 'Alan Turing', phone: '+15550100001' },
    ];
    const onStatus = (e: CustomEvent<{ status: ConnectionStatus }>) => { status.value = e.detail.status; };
    const onEnded = (e: CustomEvent<CallEndedDetail>) => { lastEnded.value = e.detail; };
    onMounted(() => {
      phone.value?.addEventListener('connectionchange', onStatus);
      phone.value?.addEventListener('callended', onEnded);
    });
    onBeforeUnmount(() => {
      phone.value?.removeEventListener('connectionchange', onStatus);
      phone.value?.removeEventListener('callended', onEnded);
    });
    const dial = (number: string, id: string) => {
      phone.value?.call(number, { metadata: { contact_id: id } }).catch(() => { /* the widget shows why */ });
    };
    return { phone, status, lastEnded, contacts, dial, BRIDGE };
  },
  template: `
    <main>
      <h1>Contacts</h1>
      <p class="phone-status">Phone: {{ status }}<span v-if="lastEnded"> · last call ended ({{ lastEnded.cause?.sip_code }})</span></p>
      <ul>
        <li v-for="c in contacts" :key="c.id">
          {{ c.name }} <button type="button" :disabled="status !== 'ready'" @click="dial(c.phone, c.id)">Call {{ c.phone }}</button>
        </li>
      </ul>
      <callbridge-softphone ref="phone" :server="BRIDGE" token-url="/crm/softphone-token"></callbridge-softphone>
    </main>`,
});

const app = createApp(Contacts);
app.config.compilerOptions.isCustomElement = (tag) => tag === 'callbridge-softphone';
app.mount('#app');
