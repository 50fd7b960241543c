// axios@1.7.9: a request interceptor added and ejected around every request.
// InterceptorManager.eject(id) only sets handlers[id] = null (the array never shrinks) and use()
// pushes, so one long-lived client gains one null slot per request: growth WITHOUT new objects
// (axios releases after 1.7 trim trailing nulls; this pins the widely deployed behaviour).
// The adapter is a plain function: no socket is opened.
import axios from "axios";

function localAdapter(config) {
  return Promise.resolve({
    data: { id: 1, path: config.url, auth: config.headers.Authorization },
    status: 200,
    statusText: "OK",
    headers: { "content-type": "application/json" },
    config,
    request: {},
  });
}

const api = axios.create({ baseURL: "http://127.0.0.1:9/api", adapter: localAdapter, timeout: 1000 });
let requestNo = 0;

export async function leaky() {
  const token = `tok-${++requestNo}`;
  // Per-request auth: add an interceptor, make the request, eject it again.
  const id = api.interceptors.request.use((config) => {
    config.headers.Authorization = `Bearer ${token}`;
    return config;
  });
  try {
    const response = await api.get(`/users/${requestNo % 50}`);
    return response.status;
  } finally {
    api.interceptors.request.eject(id);
  }
}

// The fix: one interceptor for the life of the client, reading the per-request value from the config.
const fixedApi = axios.create({ baseURL: "http://127.0.0.1:9/api", adapter: localAdapter, timeout: 1000 });
fixedApi.interceptors.request.use((config) => {
  config.headers.Authorization = `Bearer ${config.authToken}`;
  return config;
});

export async function fixed() {
  const token = `tok-${++requestNo}`;
  const response = await fixedApi.get(`/users/${requestNo % 50}`, { authToken: token });
  return response.status;
}
