// limit-bandwidth (weir's own; no APISIX plugin, Envoy#26754): bytes per second, per connection or shared by the
// route's connections, for each direction (`upload` = client to upstream, `download` = back, `both` = each of the
// two on its own bucket), with a burst. TCP gets real backpressure: the data plane stops reading a side while its
// bucket is in debt (src/runtime/types.ts PipeThrottle), so nothing is buffered beyond one read. UDP datagrams
// over the rate are dropped. `per: route` buckets are per worker process.

import * as v from 'valibot';
import type { JsonObject } from '../lib/json';
import { TokenBucket } from '../lib/token-bucket';
import type { ConnThrottle, FilterConn, FilterExplanation, StreamFilter } from '../proxy/filter/types';
import { int, oneOf, opt } from '../schema/common';
import { pluginObject } from './schema';
import type { PluginModule } from './types';

const NAME = 'limit-bandwidth';
/** After limit-conn (1003), before traffic-split (966): only admitted connections get buckets. */
const PRIORITY = 1002;

const positiveInt = v.pipe(int(), v.check((n) => n > 0, (i) => `expected ${i.input} to be greater than 0`));

const schema = pluginObject({
  rate: positiveInt,
  burst: opt(positiveInt),
  per: opt(oneOf(['connection', 'route'])),
  direction: opt(oneOf(['both', 'upload', 'download'])),
});

const now = (): number => performance.now();

/** One connection's limits: its own buckets, or the route's shared ones. */
class BandwidthThrottle implements ConnThrottle {
  constructor(
    private readonly up: TokenBucket | null,
    private readonly down: TokenBucket | null,
  ) {}

  consumed(upload: boolean, bytes: number): number {
    const bucket = upload ? this.up : this.down;
    return bucket === null ? 0 : bucket.take(bytes, now());
  }

  admit(upload: boolean, bytes: number): boolean {
    const bucket = upload ? this.up : this.down;
    return bucket === null || bucket.tryTake(bytes, now());
  }
}

/** Compiled conf: rate and burst in bytes, which directions, and the route's buckets for `per: route`. */
export interface BandwidthLimits {
  rate: number;
  burst: number;
  upload: boolean;
  download: boolean;
  perRoute: boolean;
}

export function readLimits(conf: JsonObject): BandwidthLimits {
  const rate = conf.rate as number;
  const direction = (conf.direction as string | undefined) ?? 'both';
  return {
    rate,
    burst: typeof conf.burst === 'number' ? conf.burst : rate,
    upload: direction !== 'download',
    download: direction !== 'upload',
    perRoute: conf.per === 'route',
  };
}

class LimitBandwidthFilter implements StreamFilter {
  readonly name = NAME;
  readonly priority = PRIORITY;
  /** `per: route`: one throttle for every connection of the route (in this process). */
  private readonly shared: BandwidthThrottle | null;

  constructor(private readonly limits: BandwidthLimits) {
    this.shared = limits.perRoute ? this.newThrottle() : null;
  }

  private newThrottle(): BandwidthThrottle {
    const { rate, burst, upload, download } = this.limits;
    const t = now();
    return new BandwidthThrottle(upload ? new TokenBucket(rate, burst, t) : null, download ? new TokenBucket(rate, burst, t) : null);
  }

  access(c: FilterConn): undefined {
    c.setThrottle(this.shared ?? this.newThrottle());
    return undefined;
  }

  /** It never refuses: it says what it would hold the connection to. */
  explain(): FilterExplanation {
    const { rate, burst, upload, download, perRoute } = this.limits;
    const direction = upload && download ? 'both' : upload ? 'upload' : 'download';
    const per = perRoute ? 'route' : 'connection';
    return { admits: true, reason: `never refuses: ${rate} bytes/s (burst ${burst}) per ${per}, ${direction === 'both' ? 'each direction' : direction}`, facts: { rate, burst, per, direction } };
  }
}

export const limitBandwidth: PluginModule = {
  name: NAME,
  priority: PRIORITY,
  extension: true,
  schema,
  jsonSchema: {
    type: 'object',
    description: 'weir extension: bytes per second per connection or per route, each direction, with real backpressure',
    properties: {
      rate: { type: 'integer', exclusiveMinimum: 0, description: 'bytes per second' },
      burst: { type: 'integer', exclusiveMinimum: 0, description: 'bytes that may go at once; default: rate' },
      per: { type: 'string', enum: ['connection', 'route'], default: 'connection' },
      direction: { type: 'string', enum: ['both', 'upload', 'download'], default: 'both' },
    },
    required: ['rate'],
  },

  compile(conf): StreamFilter {
    return new LimitBandwidthFilter(readLimits(conf));
  },
};
