/**
 * Test helpers of the runs list: run summaries, and a server in memory that
 * answers `GET runs`, `GET runs/count` and `GET runs/keys` as the REST API
 * does (filter, roots, parent, order, offset/limit, since, count=0), whose
 * answers a test may hold back and release in any order.
 */

import { IRunSummary } from '../model';

/** A run summary with defaults. */
export function summary(
  id: string,
  overrides: Partial<IRunSummary> = {}
): IRunSummary {
  return {
    id,
    number: 1,
    experiment: 'demo',
    experiment_id: 1,
    name: `run ${id}`,
    status: 'finished',
    start_time: null,
    end_time: null,
    duration: null,
    notebook_path: 'a.ipynb',
    cell_id: null,
    execution_count: null,
    tags: {},
    note: '',
    params: {},
    metrics: {},
    parent_run_id: null,
    source: 'notebook',
    children: { count: 0, best: {} },
    ...overrides
  };
}

/** `n` top-level runs numbered 1..n, listed newest (highest number) first. */
export function manyRuns(n: number, prefix = 'r'): IRunSummary[] {
  const runs: IRunSummary[] = [];
  for (let i = 1; i <= n; i++) {
    runs.push(
      summary(`${prefix}${i}`, {
        number: i,
        name: `${prefix}${i}`,
        metrics: { acc: i / n }
      })
    );
  }
  return runs;
}

/** A request the server received. */
export interface IRequest {
  endPoint: string;
  params: URLSearchParams;
  resolve: () => void;
  settled: boolean;
}

/** The error `requestAPI` throws for a refused query (see handler.ts). */
export class RefusedQuery extends Error {
  constructor(readonly error: { [key: string]: unknown }) {
    super(String(error.message));
  }
}

export class FakeServer {
  /** Every run of the store, children included. */
  runs: IRunSummary[] = [];
  /** The store's revision. */
  revision = 1;
  /** Hold answers until `release` (else they are answered at once). */
  hold = false;
  /** Refuse every request with a network error while set. */
  offline = false;
  /** Answer `runs/keys` with 404 (a server before issue 13). */
  noKeys = false;
  /** Answer `runs/count` with a server error while set. */
  failCount = false;
  readonly requests: IRequest[] = [];

  /** The `fetch` to give the model. */
  readonly fetch = (endPoint: string): Promise<unknown> => {
    const [path, query = ''] = endPoint.split('?');
    const params = new URLSearchParams(query);
    // Answered with the store as it is when asked, delivered on release.
    let answer: unknown;
    let failure: unknown = null;
    try {
      answer = this._answer(path, params);
    } catch (error) {
      failure = error;
    }
    return new Promise((resolve, reject) => {
      const request: IRequest = {
        endPoint,
        params,
        settled: false,
        resolve: () => {
          if (request.settled) {
            return;
          }
          request.settled = true;
          if (failure) {
            reject(failure);
          } else {
            resolve(answer);
          }
        }
      };
      this.requests.push(request);
      if (!this.hold) {
        request.resolve();
      }
    });
  };

  /** Requests to `runs` (not keys, not counts), as their endpoints. */
  runRequests(): string[] {
    return this.requests
      .filter(r => r.endPoint.startsWith('runs?'))
      .map(r => r.endPoint);
  }

  /** Requests to `runs/count`, as their endpoints. */
  countRequests(): string[] {
    return this.requests.filter(r => isCount(r)).map(r => r.endPoint);
  }

  /** Deliver the held answers (of the requests matching `which`), in order. */
  release(which: (r: IRequest) => boolean = () => true): number {
    let n = 0;
    for (const request of this.requests) {
      if (!request.settled && which(request)) {
        request.resolve();
        n++;
      }
    }
    return n;
  }

  /** Requests not answered yet. */
  pending(): IRequest[] {
    return this.requests.filter(r => !r.settled);
  }

  /** A change to the store. */
  touch(): void {
    this.revision++;
  }

  private _answer(path: string, params: URLSearchParams): unknown {
    if (this.offline) {
      throw new TypeError('Failed to fetch');
    }
    const revision = String(this.revision);
    if (path === 'runs/keys') {
      if (this.noKeys) {
        throw new Error('404 Not Found');
      }
      const metrics = new Set<string>();
      this.runs.forEach(r =>
        Object.keys(r.metrics).forEach(k => metrics.add(k))
      );
      const params = new Set<string>();
      const tags = new Set<string>();
      this.runs.forEach(r => {
        Object.keys(r.params).forEach(k => params.add(k));
        Object.keys(r.tags).forEach(k => tags.add(k));
      });
      return {
        params: Array.from(params).sort(),
        metrics: Array.from(metrics).sort(),
        tags: Array.from(tags).sort()
      };
    }
    if (path === 'runs/count') {
      // What only pages a listing is refused, as the server does.
      for (const key of params.keys()) {
        if (!COUNT_PARAMS.includes(key)) {
          throw new Error(`400 Bad Request: unknown parameter ${key}`);
        }
      }
      if (this.failCount) {
        throw new Error('500 Internal Server Error');
      }
      return { total: this._select(params).length, revision };
    }
    if (params.get('since') === revision) {
      return { unchanged: true, revision };
    }
    const runs = order(
      this._select(params),
      params.get('order') ?? '-start_time'
    );
    const offset = Number(params.get('offset') ?? 0);
    const limit = Number(params.get('limit') ?? 100);
    return {
      runs: runs.slice(offset, offset + limit).map(withChildren(this.runs)),
      total: params.get('count') === '0' ? null : runs.length,
      limit,
      offset,
      next: offset + limit < runs.length ? `after-${offset + limit}` : null,
      revision
    };
  }

  /** The runs a listing selects (unordered): parent, or scope and filter. */
  private _select(params: URLSearchParams): IRunSummary[] {
    const filter = params.get('filter') ?? '';
    if (filter.includes('<') && !/<\s*\S/.test(filter)) {
      throw new RefusedQuery({
        status: 400,
        message: 'expected a value',
        reason: 'query',
        query_error: {
          message: 'expected a value',
          column: filter.length + 1,
          position: filter.length
        }
      });
    }
    let runs = this.runs.slice();
    const parent = params.get('parent');
    if (parent) {
      runs = runs.filter(r => r.parent_run_id === parent);
    } else {
      const notebook = params.get('notebook');
      if (notebook) {
        runs = runs.filter(r => r.notebook_path === notebook);
      }
      if (params.get('roots') === '1') {
        const ids = new Set(this.runs.map(r => r.id));
        runs = runs.filter(r => !r.parent_run_id || !ids.has(r.parent_run_id));
      }
      if (filter) {
        runs = runs.filter(r => r.name.includes(filter));
      }
    }
    return runs;
  }
}

/** What `GET runs/count` takes: the selection of a listing, no paging. */
const COUNT_PARAMS = [
  'experiment',
  'notebook',
  'kernel',
  'status',
  'filter',
  'parent',
  'roots'
];

/** Whether a request asks for a count. */
export function isCount(request: IRequest): boolean {
  return request.endPoint.startsWith('runs/count');
}

/** Sort as the server does: by number for `start_time`, nulls last. */
function order(runs: IRunSummary[], field: string): IRunSummary[] {
  const desc = field.startsWith('-');
  const key = desc ? field.slice(1) : field;
  const value = (run: IRunSummary): number | string | null => {
    if (key.startsWith('metrics.')) {
      const [, metric, reducer] = key.split('.');
      const v = run.metric_summary?.[metric]?.[reducer as 'max'];
      return v === undefined ? (run.metrics[metric] ?? null) : v;
    }
    if (key === 'start_time' || key === 'number') {
      return run.number;
    }
    return (run as any)[key] ?? null;
  };
  return runs.slice().sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    if (va === null || vb === null) {
      return va === vb ? 0 : va === null ? 1 : -1;
    }
    const cmp = va < vb ? -1 : va > vb ? 1 : 0;
    return desc ? -cmp : cmp;
  });
}

/** The `children` summary the server adds to every run. */
function withChildren(all: IRunSummary[]) {
  return (run: IRunSummary): IRunSummary => ({
    ...run,
    children: {
      count: all.filter(r => r.parent_run_id === run.id).length,
      best: {}
    }
  });
}

/** Let every pending promise callback run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}
