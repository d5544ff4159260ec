//! The Lua scripts: each changes keys of one slot at once.

use redis::Script;

pub(super) struct Scripts {
    pub(super) create: Script,
    pub(super) cas: Script,
    pub(super) lock: Script,
    pub(super) confirm: Script,
    pub(super) unlock: Script,
    pub(super) takeover: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Scripts {
            create: Script::new(
                "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
                 redis.call('HSET', KEYS[1], 's', ARGV[1], 'v', 1) return 1",
            ),
            cas: Script::new(
                "local v = redis.call('HGET', KEYS[1], 'v')
                 if not v or v ~= ARGV[1] then return 0 end
                 if ARGV[2] == '' then redis.call('DEL', KEYS[1])
                 else redis.call('HSET', KEYS[1], 's', ARGV[2], 'v', tonumber(v) + 1) end
                 return 1",
            ),
            // The holder, and its lease left (-1: held by a joined session).
            lock: Script::new(
                "local cur = redis.call('GET', KEYS[1])
                 if not cur then
                   redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
                   return {ARGV[1], tonumber(ARGV[2])}
                 end
                 return {cur, redis.call('PTTL', KEYS[1])}",
            ),
            // Keeps the lock for good (also when its lease ran out meanwhile).
            confirm: Script::new(
                "local cur = redis.call('GET', KEYS[1])
                 if not cur or cur == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end
                 return 1",
            ),
            unlock: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1",
            ),
            takeover: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then
                   redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1
                 end
                 return 0",
            ),
        }
    }
}
