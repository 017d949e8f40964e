-- Version 3: a batch of operations (store.Batcher) in one statement,
-- SELECT {{p}}run_batch(ops, now), in place of BEGIN, a statement or two
-- per operation and COMMIT: one network round trip and one commit. The
-- functions do the work of the statements they replace, in the same
-- order and with the same row locks, in the transaction of the calling
-- statement; each statement inside them takes a new snapshot, as each
-- statement of a READ COMMITTED transaction does. Times are microseconds
-- since the Unix epoch, durations nanoseconds, byte strings base64.

-- {{p}}ct_equal compares two byte strings in time that depends on their
-- length only, as Go's crypto/subtle.ConstantTimeCompare does.
CREATE OR REPLACE FUNCTION {{p}}ct_equal(a BYTEA, b BYTEA) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
DECLARE
	acc INTEGER := 0;
BEGIN
	IF length(a) <> length(b) THEN
		RETURN false;
	END IF;
	FOR i IN 0 .. length(a) - 1 LOOP
		acc := acc | (get_byte(a, i) # get_byte(b, i));
	END LOOP;
	RETURN acc = 0;
END
$fn$;

-- {{p}}incr_below is a bounded increment (store.BoundedCounters): it
-- locks every counter of the call in key order, creating a missing one as
-- an ended row, decides as store.DecideBounded does, writes the counters
-- it increments and deletes the ended rows it created and did not
-- increment. Each entry of incrs is {"k": key, "w": window, "m": max,
-- "s": [[after, max], ...], "r": count refused, "c": check}; each result
-- {"n", "r": reset_at or 0, "x": bound, "f": full, "i": incremented}.
CREATE OR REPLACE FUNCTION {{p}}incr_below(incrs JSONB, now_us BIGINT) RETURNS JSONB
LANGUAGE plpgsql AS $fn$
DECLARE
	_cnt     INTEGER := jsonb_array_length(incrs);
	_locked  JSONB := '{}';
	_row     RECORD;
	_e       JSONB;
	_step    JSONB;
	_raw     BIGINT[] := '{}';
	_n       BIGINT[] := '{}';
	_r       BIGINT[] := '{}';
	_bound   BIGINT[] := '{}';
	_full    BOOLEAN[] := '{}';
	_refused BOOLEAN := false;
	_age     BIGINT;
	_incd    BOOLEAN;
	_res     JSONB := '[]';
	_upd_k   TEXT[] := '{}';
	_upd_n   BIGINT[] := '{}';
	_upd_r   BIGINT[] := '{}';
	_del_k   TEXT[] := '{}';
BEGIN
	FOR _row IN
		INSERT INTO {{p}}counters AS c (k, n, reset_at)
		SELECT x.k, 0, 0 FROM (SELECT value->>'k' AS k FROM jsonb_array_elements(incrs)) x ORDER BY x.k COLLATE "C"
		ON CONFLICT (k) DO UPDATE SET n = c.n
		RETURNING c.k, c.n, c.reset_at
	LOOP
		_locked := _locked || jsonb_build_object(_row.k, jsonb_build_array(_row.n, _row.reset_at));
	END LOOP;
	FOR j IN 1 .. _cnt LOOP
		_e := incrs -> (j - 1);
		IF NOT _locked ? (_e->>'k') THEN
			RAISE EXCEPTION 'counter % missing from the locked rows', j;
		END IF;
		_raw[j] := (_locked -> (_e->>'k') ->> 1)::BIGINT;
		IF _raw[j] > now_us THEN
			_n[j] := (_locked -> (_e->>'k') ->> 0)::BIGINT;
			_r[j] := _raw[j];
		ELSE
			_n[j] := 0;
			_r[j] := 0;
		END IF;
		-- The window's age: from its start (its end less the window) to now.
		_age := 0;
		IF _r[j] <> 0 THEN
			_age := (now_us - _r[j]) * 1000 + (_e->>'w')::BIGINT;
		END IF;
		_bound[j] := (_e->>'m')::BIGINT;
		FOR s IN 0 .. coalesce(jsonb_array_length(_e->'s'), 0) - 1 LOOP
			_step := _e->'s'->s;
			IF _age >= (_step->>0)::BIGINT THEN
				_bound[j] := (_step->>1)::BIGINT;
			END IF;
		END LOOP;
		_full[j] := _n[j] >= _bound[j];
		_refused := _refused OR _full[j];
	END LOOP;
	FOR j IN 1 .. _cnt LOOP
		_e := incrs -> (j - 1);
		_incd := NOT _full[j] AND NOT coalesce((_e->>'c')::BOOLEAN, false)
			AND (NOT _refused OR coalesce((_e->>'r')::BOOLEAN, false));
		IF _incd THEN
			IF _r[j] = 0 THEN
				_n[j] := 0;
				_r[j] := now_us + (_e->>'w')::BIGINT / 1000;
			END IF;
			_n[j] := _n[j] + 1;
			_upd_k := _upd_k || (_e->>'k');
			_upd_n := _upd_n || _n[j];
			_upd_r := _upd_r || _r[j];
		ELSIF _raw[j] = 0 THEN
			_del_k := _del_k || (_e->>'k');
		END IF;
		_res := _res || jsonb_build_array(jsonb_build_object('n', _n[j], 'r', _r[j], 'x', _bound[j], 'f', _full[j], 'i', _incd));
	END LOOP;
	-- One statement per row, by its key alone: the rows are locked, and a
	-- plan of its own choosing (a join, or the index on reset_at, which
	-- holds an entry for every ended row deleted since the last vacuum)
	-- can cost many times more as the table grows.
	FOR j IN 1 .. cardinality(_upd_k) LOOP
		UPDATE {{p}}counters SET n = _upd_n[j], reset_at = _upd_r[j] WHERE k = _upd_k[j];
	END LOOP;
	FOR j IN 1 .. cardinality(_del_k) LOOP
		DELETE FROM {{p}}counters WHERE k = _del_k[j];
	END LOOP;
	RETURN _res;
END
$fn$;

-- {{p}}run_batch runs the operations of ops in order and returns their
-- results, one object each: an operation with "if" runs only when the
-- operation it names (one-based) ran and succeeded, a bounded increment
-- refusing nothing or a code's consumption matching (store.SkipOp), and
-- is otherwise {"skip": true}.
CREATE OR REPLACE FUNCTION {{p}}run_batch(ops JSONB, now_us BIGINT) RETURNS JSONB
LANGUAGE plpgsql AS $fn$
DECLARE
	_cnt  INTEGER := jsonb_array_length(ops);
	_out  JSONB := '[]';
	_op   JSONB;
	_res  JSONB;
	_if   INTEGER;
	_ok   BOOLEAN[] := '{}';
	_b    JSONB;
	_v    BYTEA;
	_exp  BIGINT;
	_n    BIGINT;
	_r    BIGINT;
	_max  INTEGER;
	_att  INTEGER;
	_rc   BIGINT;
BEGIN
	FOR i IN 1 .. _cnt LOOP
		_op := ops -> (i - 1);
		_ok[i] := false;
		_if := (_op->>'if')::INTEGER;
		IF _if IS NOT NULL AND NOT coalesce(_ok[_if], false) THEN
			_out := _out || jsonb_build_array(jsonb_build_object('skip', true));
			CONTINUE;
		END IF;
		_res := '{}';
		CASE _op->>'t'
		WHEN 'peek' THEN
			SELECT c.n, c.reset_at INTO _n, _r FROM {{p}}counters c WHERE c.k = _op->>'k' AND c.reset_at > now_us;
			IF FOUND THEN
				_res := jsonb_build_object('n', _n, 'r', _r);
			END IF;
		WHEN 'get' THEN
			SELECT s.v INTO _v FROM {{p}}states s WHERE s.k = _op->>'k' AND (s.expires_at IS NULL OR s.expires_at > now_us);
			IF FOUND THEN
				_res := jsonb_build_object('f', true, 'v', translate(encode(_v, 'base64'), E'\n', ''));
			END IF;
		WHEN 'list' THEN
			SELECT jsonb_build_object('l', coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'm', x.method, 'l', x.label,
				'd', translate(encode(x.data, 'base64'), E'\n', ''), 'c', x.created_at, 'u', x.last_used_at) ORDER BY x.created_at, x.id), '[]'))
			INTO _res FROM {{p}}enrollments x WHERE x.user_id = _op->>'u';
		WHEN 'incr' THEN
			_b := {{p}}incr_below(_op->'i', now_us);
			_ok[i] := NOT jsonb_path_exists(_b, '$[*] ? (@.f == true)');
			_res := jsonb_build_object('b', _b);
		WHEN 'mark' THEN
			INSERT INTO {{p}}ledger AS l (k, v, expires_at) VALUES (_op->>'k', 1, (_op->>'e')::BIGINT)
			ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at
			WHERE l.expires_at IS NOT NULL AND l.expires_at <= now_us;
			GET DIAGNOSTICS _rc = ROW_COUNT;
			_res := jsonb_build_object('w', _rc > 0);
		WHEN 'reset' THEN
			DELETE FROM {{p}}counters c WHERE c.k = _op->>'k';
		WHEN 'consume' THEN
			SELECT c.hash, c.expires_at, c.max_attempts, c.attempts INTO _v, _exp, _max, _att
			FROM {{p}}codes c WHERE c.grp = _op->>'g' AND c.k = _op->>'k' FOR UPDATE;
			IF NOT FOUND THEN
				_res := jsonb_build_object('s', 0);
			ELSIF _exp IS NOT NULL AND _exp <= now_us THEN
				DELETE FROM {{p}}codes c WHERE c.grp = _op->>'g' AND c.k = _op->>'k';
				_res := jsonb_build_object('s', 3);
			ELSIF _max > 0 AND _att >= _max THEN
				_res := jsonb_build_object('s', 4);
			ELSIF {{p}}ct_equal(_v, decode(_op->>'h', 'base64')) THEN
				DELETE FROM {{p}}codes c WHERE c.grp = _op->>'g' AND c.k = _op->>'k';
				_res := jsonb_build_object('s', 1);
				_ok[i] := true;
			ELSE
				UPDATE {{p}}codes c SET attempts = c.attempts + 1 WHERE c.grp = _op->>'g' AND c.k = _op->>'k';
				_res := jsonb_build_object('s', 2);
			END IF;
		WHEN 'put' THEN
			INSERT INTO {{p}}codes (grp, k, hash, expires_at, max_attempts, attempts)
			VALUES (_op->>'g', _op->>'k', decode(_op->>'h', 'base64'), (_op->>'e')::BIGINT, coalesce((_op->>'m')::INTEGER, 0), 0)
			ON CONFLICT (grp, k) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at,
				max_attempts = excluded.max_attempts, attempts = 0;
		WHEN 'touch' THEN
			UPDATE {{p}}enrollments x SET last_used_at = (_op->>'tm')::BIGINT
			WHERE x.user_id = _op->>'u' AND x.id = _op->>'id' AND (x.last_used_at IS NULL OR x.last_used_at < (_op->>'tm')::BIGINT);
		WHEN 'none' THEN
			NULL;
		ELSE
			RAISE EXCEPTION 'unknown operation %', _op->>'t';
		END CASE;
		_out := _out || jsonb_build_array(_res);
	END LOOP;
	RETURN _out;
END
$fn$;
