import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ApiErrorBody } from './types';

/** An error answered by the server: its HTTP status and nbops's `{error, hint}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody
  ) {
    super(body.error);
  }
}

/** Call nbops's REST API: `requestAPI<RunPage>('runs', {}, {limit: 50})`. */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  query: Record<string, string | number | undefined | null> = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') {
      params.set(k, String(v));
    }
  }
  const qs = params.toString();
  const url = URLExt.join(settings.baseUrl, 'nbops', 'api', 'v1', path) + (qs ? `?${qs}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(0, { error: `cannot reach the server: ${error}`, hint: 'is Jupyter running?' });
  }
  const text = await response.text();
  let data: unknown = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { error: text || response.statusText };
  }
  if (!response.ok) {
    throw new ApiError(response.status, data as ApiErrorBody);
  }
  return data as T;
}

/** POST a JSON body. */
export function postAPI<T>(path: string, body: Record<string, unknown>): Promise<T> {
  return requestAPI<T>(path, { method: 'POST', body: JSON.stringify(body) });
}
