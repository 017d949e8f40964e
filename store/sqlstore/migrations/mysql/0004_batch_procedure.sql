-- Version 4: a batch of operations (store.Batcher) in one statement,
-- CALL {{p}}run_batch(ops, now, read_committed), in place of BEGIN, a statement or two
-- per operation and COMMIT: one network round trip and one commit. The
-- procedures do the work of the statements they replace, in the same
-- order and with the same row locks, in one transaction of their own.
-- Times are microseconds since the Unix epoch, durations nanoseconds,
-- byte strings base64. ops arrives as bytes (JSON in UTF-8) and the
-- results leave as bytes, whatever the connection's character set.
--
-- The bodies hold semicolons, so the statements of this file end with
-- the delimiter that the DELIMITER lines set, as in the mysql client.
DROP PROCEDURE IF EXISTS {{p}}run_batch;
DROP PROCEDURE IF EXISTS {{p}}incr_below;
DELIMITER //

-- {{p}}incr_below is a bounded increment (store.BoundedCounters): it
-- locks every counter of the call in key order, creating a missing one as
-- an ended row, decides as store.DecideBounded does, writes the counters
-- it increments and deletes the ended rows it created and did not
-- increment. Each entry of incrs is {"k": key, "w": window, "m": max,
-- "s": [[after, max], ...], "r": count refused, "c": check}, and keys
-- holds their keys sorted as Go sorts strings, byte by byte; res is the
-- JSON array of the results, {"n", "r": reset_at or 0, "x": bound, "f":
-- full, "i": incremented}, and admitted is set when no entry is full.
-- Procedures have no arrays, so the entries are read twice: a first pass
-- decides whether any is full, a second, on the same locked rows, writes.
CREATE PROCEDURE {{p}}incr_below(IN incrs LONGTEXT CHARACTER SET utf8mb4, IN keys_sorted LONGTEXT CHARACTER SET utf8mb4,
	IN now_us BIGINT, OUT res LONGTEXT CHARACTER SET utf8mb4, OUT admitted BOOLEAN)
MODIFIES SQL DATA
BEGIN
	DECLARE _cnt INT DEFAULT JSON_LENGTH(incrs);
	DECLARE _pass, _j, _s, _ns INT DEFAULT 0;
	DECLARE _e LONGTEXT CHARACTER SET utf8mb4;
	DECLARE _k VARBINARY(255);
	DECLARE _n, _raw, _r, _bound, _age, _w BIGINT;
	DECLARE _full, _refused, _incd BOOLEAN DEFAULT FALSE;
	-- Lock the rows in key order, as the statements' multi-row upsert does.
	WHILE _j < JSON_LENGTH(keys_sorted) DO
		SET _k = JSON_UNQUOTE(JSON_EXTRACT(keys_sorted, CONCAT('$[', _j, ']')));
		INSERT INTO {{p}}counters (k, n, reset_at) VALUES (_k, 0, 0) ON DUPLICATE KEY UPDATE n = n;
		SET _j = _j + 1;
	END WHILE;
	SET res = '';
	SET _pass = 1;
	WHILE _pass <= 2 DO
		SET _j = 0;
		WHILE _j < _cnt DO
			SET _e = JSON_EXTRACT(incrs, CONCAT('$[', _j, ']'));
			SET _k = JSON_UNQUOTE(JSON_EXTRACT(_e, '$.k'));
			SET _w = CAST(JSON_UNQUOTE(JSON_EXTRACT(_e, '$.w')) AS SIGNED);
			SET _raw = NULL;
			SELECT c.n, c.reset_at INTO _n, _raw FROM {{p}}counters c WHERE c.k = _k FOR UPDATE;
			IF _raw IS NULL THEN
				SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a counter is missing from the locked rows';
			END IF;
			IF _raw > now_us THEN
				SET _r = _raw;
			ELSE
				SET _n = 0, _r = 0;
			END IF;
			-- The window's age: from its start (its end less the window) to now.
			SET _age = 0;
			IF _r <> 0 THEN
				SET _age = (now_us - _r) * 1000 + _w;
			END IF;
			SET _bound = CAST(JSON_UNQUOTE(JSON_EXTRACT(_e, '$.m')) AS SIGNED);
			SET _ns = COALESCE(JSON_LENGTH(_e, '$.s'), 0), _s = 0;
			WHILE _s < _ns DO
				IF _age >= CAST(JSON_UNQUOTE(JSON_EXTRACT(_e, CONCAT('$.s[', _s, '][0]'))) AS SIGNED) THEN
					SET _bound = CAST(JSON_UNQUOTE(JSON_EXTRACT(_e, CONCAT('$.s[', _s, '][1]'))) AS SIGNED);
				END IF;
				SET _s = _s + 1;
			END WHILE;
			SET _full = _n >= _bound;
			IF _pass = 1 THEN
				SET _refused = _refused OR _full;
			ELSE
				SET _incd = NOT _full AND COALESCE(JSON_UNQUOTE(JSON_EXTRACT(_e, '$.c')), '') <> 'true'
					AND (NOT _refused OR COALESCE(JSON_UNQUOTE(JSON_EXTRACT(_e, '$.r')), '') = 'true');
				-- One statement per row, by its key alone: the rows are
				-- locked, and a test of reset_at could lead the planner to
				-- that column's index.
				IF _incd THEN
					IF _r = 0 THEN
						SET _n = 0, _r = now_us + _w DIV 1000;
					END IF;
					SET _n = _n + 1;
					UPDATE {{p}}counters SET n = _n, reset_at = _r WHERE k = _k;
				ELSEIF _raw = 0 THEN
					DELETE FROM {{p}}counters WHERE k = _k;
				END IF;
				SET res = CONCAT(res, IF(_j = 0, '', ','), '{"n":', _n, ',"r":', _r, ',"x":', _bound,
					',"f":', IF(_full, 'true', 'false'), ',"i":', IF(_incd, 'true', 'false'), '}');
			END IF;
			SET _j = _j + 1;
		END WHILE;
		SET _pass = _pass + 1;
	END WHILE;
	SET res = CONCAT('[', res, ']');
	SET admitted = NOT _refused;
END//

-- {{p}}run_batch runs the operations of ops in order, in one transaction,
-- and returns their results as one row of one column, a JSON array with
-- an object per operation: an operation with "if" runs only when the
-- operation it names (one-based) ran and succeeded, a bounded increment
-- refusing nothing or a code's consumption matching (store.SkipOp), and
-- is otherwise {"skip": true}. An enrollment's id is returned in base64
-- ("ib"): the column holds bytes.
CREATE PROCEDURE {{p}}run_batch(IN ops_bin LONGBLOB, IN now_us BIGINT, IN read_committed BOOLEAN)
MODIFIES SQL DATA
BEGIN
	DECLARE ops LONGTEXT CHARACTER SET utf8mb4 DEFAULT CONVERT(ops_bin USING utf8mb4);
	DECLARE _cnt INT DEFAULT JSON_LENGTH(ops);
	DECLARE _i, _if, _max, _att, _p, _acc INT DEFAULT 0;
	DECLARE _ok LONGBLOB DEFAULT '';
	DECLARE _out, _res, _b LONGTEXT CHARACTER SET utf8mb4 DEFAULT '';
	DECLARE _op LONGTEXT CHARACTER SET utf8mb4;
	DECLARE _t VARCHAR(16);
	DECLARE _k, _g, _u, _id, _hash, _given VARBINARY(255);
	DECLARE _tok, _got BINARY(16);
	DECLARE _v LONGBLOB;
	DECLARE _n, _r, _exp, _tm, _ca, _ua BIGINT;
	DECLARE _adm, _found, _done BOOLEAN DEFAULT FALSE;
	DECLARE _rid VARBINARY(255);
	DECLARE _rm VARCHAR(64) CHARACTER SET utf8mb4;
	DECLARE _rl, _rd LONGTEXT CHARACTER SET utf8mb4;
	DECLARE _rdata LONGBLOB;
	DECLARE _enr CURSOR FOR
		SELECT x.id, x.method, x.label, x.data, x.created_at, x.last_used_at FROM {{p}}enrollments x
		WHERE x.user_id = _u ORDER BY x.created_at, x.id;
	DECLARE CONTINUE HANDLER FOR NOT FOUND SET _done = TRUE;
	DECLARE EXIT HANDLER FOR SQLEXCEPTION
	BEGIN
		ROLLBACK;
		RESIGNAL;
	END;
	-- READ COMMITTED when the caller asks, as it does for the statements'
	-- transaction: when a plain read follows a write that follows a plain
	-- read, which under REPEATABLE READ would see the snapshot of the first.
	IF read_committed THEN
		SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
	END IF;
	START TRANSACTION;
	WHILE _i < _cnt DO
		SET _op = JSON_EXTRACT(ops, CONCAT('$[', _i, ']'));
		SET _if = COALESCE(CAST(JSON_UNQUOTE(JSON_EXTRACT(_op, '$.if')) AS SIGNED), 0);
		SET _adm = FALSE;
		IF _if > 0 AND SUBSTRING(_ok, _if, 1) <> '1' THEN
			SET _res = '{"skip":true}';
		ELSE
			SET _t = JSON_UNQUOTE(JSON_EXTRACT(_op, '$.t'));
			SET _k = JSON_UNQUOTE(JSON_EXTRACT(_op, '$.k'));
			SET _g = JSON_UNQUOTE(JSON_EXTRACT(_op, '$.g'));
			SET _u = JSON_UNQUOTE(JSON_EXTRACT(_op, '$.u'));
			SET _exp = CAST(JSON_UNQUOTE(JSON_EXTRACT(_op, '$.e')) AS SIGNED);
			SET _res = '{}';
			CASE _t
			WHEN 'peek' THEN
				SET _r = NULL;
				SELECT c.n, c.reset_at INTO _n, _r FROM {{p}}counters c WHERE c.k = _k AND c.reset_at > now_us;
				IF _r IS NOT NULL THEN
					SET _res = CONCAT('{"n":', _n, ',"r":', _r, '}');
				END IF;
			WHEN 'get' THEN
				SET _found = FALSE;
				SELECT s.v, TRUE INTO _v, _found FROM {{p}}states s
				WHERE s.k = _k AND (s.expires_at IS NULL OR s.expires_at > now_us);
				IF _found THEN
					SET _res = CONCAT('{"f":true,"v":"', REPLACE(TO_BASE64(_v), CHAR(10), ''), '"}');
				END IF;
			WHEN 'list' THEN
				SET _b = '', _done = FALSE;
				OPEN _enr;
				fetching: LOOP
					FETCH _enr INTO _rid, _rm, _rl, _rdata, _ca, _ua;
					IF _done THEN
						LEAVE fetching;
					END IF;
					SET _b = CONCAT(_b, IF(_b = '', '', ','), '{"ib":"', REPLACE(TO_BASE64(_rid), CHAR(10), ''),
						'","m":', JSON_QUOTE(_rm), ',"l":', JSON_QUOTE(_rl),
						',"d":"', REPLACE(TO_BASE64(_rdata), CHAR(10), ''),
						'","c":', COALESCE(_ca, 'null'), ',"u":', COALESCE(_ua, 'null'), '}');
				END LOOP;
				CLOSE _enr;
				SET _done = FALSE;
				SET _res = CONCAT('{"l":[', _b, ']}');
			WHEN 'incr' THEN
				CALL {{p}}incr_below(JSON_EXTRACT(_op, '$.i'), JSON_EXTRACT(_op, '$.ks'), now_us, _b, _adm);
				SET _res = CONCAT('{"b":', _b, '}');
			WHEN 'mark' THEN
				-- The winner writes a token of its own and reads it back, as
				-- the statements do: an upsert's affected-row count depends
				-- on the connection's flags. UUID() is unique on the server,
				-- which is all a token needs.
				SET _tok = UNHEX(REPLACE(UUID(), '-', ''));
				INSERT INTO {{p}}ledger (k, v, expires_at, tok) VALUES (_k, 1, _exp, _tok) ON DUPLICATE KEY UPDATE
					tok = IF(expires_at IS NOT NULL AND expires_at <= now_us, VALUES(tok), tok),
					v = IF(tok = VALUES(tok), VALUES(v), v), expires_at = IF(tok = VALUES(tok), VALUES(expires_at), expires_at);
				SELECT l.tok INTO _got FROM {{p}}ledger l WHERE l.k = _k;
				SET _res = CONCAT('{"w":', IF(_got = _tok, 'true', 'false'), '}');
			WHEN 'reset' THEN
				DELETE FROM {{p}}counters WHERE k = _k;
			WHEN 'consume' THEN
				SET _hash = NULL;
				SELECT c.hash, c.expires_at, c.max_attempts, c.attempts INTO _hash, _exp, _max, _att
				FROM {{p}}codes c WHERE c.grp = _g AND c.k = _k FOR UPDATE;
				SET _given = FROM_BASE64(JSON_UNQUOTE(JSON_EXTRACT(_op, '$.h')));
				IF _hash IS NULL THEN
					SET _res = '{"s":0}';
				ELSEIF _exp IS NOT NULL AND _exp <= now_us THEN
					DELETE FROM {{p}}codes WHERE grp = _g AND k = _k;
					SET _res = '{"s":3}';
				ELSEIF _max > 0 AND _att >= _max THEN
					SET _res = '{"s":4}';
				ELSE
					-- Compared in time that depends on the length only, as
					-- Go's crypto/subtle.ConstantTimeCompare does.
					SET _acc = 0, _p = 1;
					IF LENGTH(_hash) <> LENGTH(_given) THEN
						SET _acc = 1, _p = LENGTH(_hash) + 1;
					END IF;
					WHILE _p <= LENGTH(_hash) DO
						SET _acc = _acc | (ASCII(SUBSTRING(_hash, _p, 1)) ^ ASCII(SUBSTRING(_given, _p, 1)));
						SET _p = _p + 1;
					END WHILE;
					IF _acc = 0 THEN
						DELETE FROM {{p}}codes WHERE grp = _g AND k = _k;
						SET _res = '{"s":1}', _adm = TRUE;
					ELSE
						UPDATE {{p}}codes SET attempts = attempts + 1 WHERE grp = _g AND k = _k;
						SET _res = '{"s":2}';
					END IF;
				END IF;
			WHEN 'put' THEN
				REPLACE INTO {{p}}codes (grp, k, hash, expires_at, max_attempts, attempts)
				VALUES (_g, _k, FROM_BASE64(JSON_UNQUOTE(JSON_EXTRACT(_op, '$.h'))), _exp,
					COALESCE(CAST(JSON_UNQUOTE(JSON_EXTRACT(_op, '$.m')) AS SIGNED), 0), 0);
			WHEN 'touch' THEN
				SET _id = JSON_UNQUOTE(JSON_EXTRACT(_op, '$.id'));
				SET _tm = CAST(JSON_UNQUOTE(JSON_EXTRACT(_op, '$.tm')) AS SIGNED);
				UPDATE {{p}}enrollments SET last_used_at = _tm
				WHERE user_id = _u AND id = _id AND (last_used_at IS NULL OR last_used_at < _tm);
			WHEN 'none' THEN
				DO 0;
			ELSE
				SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'unknown batch operation';
			END CASE;
		END IF;
		SET _ok = CONCAT(_ok, IF(_adm, '1', '0'));
		SET _out = CONCAT(_out, IF(_i = 0, '', ','), _res);
		SET _i = _i + 1;
	END WHILE;
	COMMIT;
	SELECT CONVERT(CONCAT('[', _out, ']') USING binary) AS results;
END//
DELIMITER ;
