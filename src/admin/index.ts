// The Admin API's public surface: the app factory and the body limit the HTTP server must use.

export { createAdminApp, type AdminAppOptions } from './app';
export { MAX_BODY_BYTES } from './respond';
