import { reactive } from 'vue';
import { api, get, setToken, token, ApiError } from './api.js';

// Who is signed in: the token's id, role and tenant (GET /api/v1/whoami).
export const session = reactive({ name: '', role: '', tenant: '', ready: false });

export const can = {
  editTenants: () => session.role === 'admin',
  editServices: (tenant) => session.role === 'admin' || (session.role === 'operator' && session.tenant === tenant),
  // POST .../approve: the same roles as service edits.
  approve: (tenant) => session.role === 'admin' || (session.role === 'operator' && session.tenant === tenant),
  verifyAudit: () => session.role === 'admin',
  seeFleet: () => session.role === 'admin',
};

export async function signIn(secret) {
  setToken(secret.trim());
  try {
    const me = await get('/api/v1/whoami');
    if (!['admin', 'operator', 'viewer'].includes(me.role)) {
      setToken('');
      throw new ApiError(403, {
        message: `${me.role} tokens have no console: sign in with an admin, operator or viewer token`,
      });
    }
    Object.assign(session, me, { ready: true });
  } catch (e) {
    setToken('');
    Object.assign(session, { name: '', role: '', tenant: '', ready: false });
    throw e;
  }
}

// On load: the token kept in this tab, if any.
export async function resume() {
  if (!token()) return false;
  try {
    await signIn(token());
    return true;
  } catch {
    return false;
  }
}

export function signOut() {
  setToken('');
  Object.assign(session, { name: '', role: '', tenant: '', ready: false });
}

export { api };
