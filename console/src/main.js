import { createApp } from 'vue';
import { createRouter, createWebHistory } from 'vue-router';
import App from './App.vue';
import { resume, session } from './session.js';
import SignIn from './views/SignIn.vue';
import FleetView from './views/FleetView.vue';
import TenantView from './views/TenantView.vue';
import ServiceView from './views/ServiceView.vue';
import AuditView from './views/AuditView.vue';
import './style.css';

const router = createRouter({
  history: createWebHistory('/ui/'),
  routes: [
    { path: '/signin', component: SignIn, meta: { public: true, title: 'Sign in' } },
    { path: '/', component: FleetView, meta: { title: 'Fleet' } },
    { path: '/tenants/:tenant', component: TenantView, props: true, meta: { title: 'Tenant' } },
    { path: '/tenants/:tenant/services/:service', component: ServiceView, props: true, meta: { title: 'Service' } },
    { path: '/audit', component: AuditView, meta: { title: 'Audit' } },
    { path: '/:rest(.*)', redirect: '/' },
  ],
});

let resumed = null;
router.beforeEach(async (to) => {
  if (!session.ready) {
    resumed ??= resume();
    await resumed;
  }
  if (!to.meta.public && !session.ready) return { path: '/signin' };
  if (to.path === '/' && session.ready && session.role !== 'admin') return { path: `/tenants/${session.tenant}` };
  return true;
});
router.afterEach((to) => {
  document.title = `${to.meta.title || 'prescale'} · prescale console`;
});

window.addEventListener('prescale-unauthorized', () => {
  resumed = null;
  router.replace('/signin');
});

createApp(App).use(router).mount('#app');
