"""The Python SDK in plain CPython: conversions, and the glue a component runs, against stand-ins
for the modules componentize-py generates (wit_world, componentize_py_types), which exist only
inside a component. Run: python3 -m unittest discover -s plugins/sdk/python/tests"""

import hashlib
import json
import logging
import sys
import types as pytypes
import unittest
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import importlib  # noqa: E402

import switchyard_plugin as sdk  # noqa: E402
from switchyard_plugin import marshall, unmarshall  # noqa: E402
from switchyard_plugin.dynamodb import unmarshall_value  # noqa: E402


def fresh_sdk():
    """The SDK imported anew, so that it binds the host modules in sys.modules now."""
    for name in [n for n in sys.modules if n == "switchyard_plugin" or n.startswith("switchyard_plugin.")]:
        del sys.modules[name]
    return importlib.import_module("switchyard_plugin")


class Conversions(unittest.TestCase):
    def test_unmarshall_keeps_every_digit_and_marshall_gives_it_back(self):
        image = {
            "id": {"S": "o-1"},
            "total": {"N": "12345678901234567890.123456789"},
            "tags": {"SS": ["a", "b"]},
            "sizes": {"NS": ["1", "2.5"]},
            "blob": {"B": "AAEC"},
            "lines": {"L": [{"M": {"sku": {"S": "x"}, "qty": {"N": "2"}}}]},
            "gift": {"BOOL": True},
            "note": {"NULL": True},
        }
        plain = unmarshall(image)
        self.assertEqual(plain["total"], Decimal("12345678901234567890.123456789"))
        self.assertEqual(plain["tags"], {"a", "b"})
        self.assertEqual(plain["sizes"], {Decimal(1), Decimal("2.5")})
        self.assertEqual(plain["blob"], b"\x00\x01\x02")
        self.assertEqual(plain["lines"], [{"sku": "x", "qty": Decimal(2)}])
        self.assertEqual((plain["gift"], plain["note"]), (True, None))
        self.assertEqual(marshall(plain), image)
        self.assertEqual({name: unmarshall_value(typed) for name, typed in image.items()}, plain)
        with self.assertRaises(ValueError):
            unmarshall_value({"X": "1"})

    def test_a_function_under_a_decorator_stays_callable_in_plain_python(self):
        @sdk.filter
        def keep(record):
            return record is not None

        self.assertTrue(keep({}))


# -- stand-ins for what componentize-py generates --------------------------------------------

@dataclass
class Event:
    id: str
    payload: str


@dataclass
class Message:
    id: str
    body: str
    receive_count: int
    attributes: list


@dataclass
class Err(Exception):
    value: object


def variant(name):
    return dataclass(type(name, (), {"__annotations__": {"value": object}, "value": None}))


class Level:
    TRACE, DEBUG, INFO, WARN, ERROR = "trace", "debug", "info", "warn", "error"


class Component(unittest.TestCase):
    """The glue as a component runs it: the decorators define WitWorld in their module."""

    def setUp(self):
        self.logged = []
        self.settings = {"threshold": "100", "region": "eu-west-1", "queue": "orders"}
        types = pytypes.SimpleNamespace(
            Event=Event,
            Error_Invalid=variant("Error_Invalid"),
            Error_Failed=variant("Error_Failed"),
            Outcome_Ok=dataclass(type("Outcome_Ok", (), {})),
            Outcome_Retry=variant("Outcome_Retry"),
            Outcome_DeadLetter=variant("Outcome_DeadLetter"),
        )
        log = pytypes.SimpleNamespace(Level=Level, log=lambda level, message, fields: self.logged.append((level, message, fields)))
        config = pytypes.SimpleNamespace(get_all=lambda: list(self.settings.items()))
        world = pytypes.ModuleType("wit_world")
        world.WitWorld = type("WitWorld", (), {})
        imports = pytypes.ModuleType("wit_world.imports")
        imports.types, imports.log, imports.config = types, log, config
        generated = pytypes.ModuleType("componentize_py_types")
        generated.Err = Err
        self.modules = {"wit_world": world, "wit_world.imports": imports, "componentize_py_types": generated}
        self.saved = {name: sys.modules.get(name) for name in self.modules}
        sys.modules.update(self.modules)
        global sdk
        sdk = fresh_sdk()
        self.types = types

    def tearDown(self):
        global sdk
        for name, module in self.saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        logging.getLogger().handlers = [h for h in logging.getLogger().handlers if not isinstance(h, sdk._HostHandler)]
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        sdk = fresh_sdk()

    def record(self, total):
        return json.dumps({
            "eventID": "e-1", "eventName": "INSERT",
            "dynamodb": {"Keys": {"orderId": {"S": "o-1"}},
                         "NewImage": {"orderId": {"S": "o-1"}, "total": {"N": str(total)}},
                         "SequenceNumber": "1"},
        })

    def test_a_filter_reads_the_record_and_its_errors_name_their_kind(self):
        @sdk.filter
        def keep(record):
            if record.new_image["total"] < 0:
                raise sdk.Invalid("a negative total")
            return record.new_image["total"] > sdk.config.number("threshold", 0)

        world = WitWorld()  # noqa: F821 - defined by the decorator
        self.assertTrue(world.keep(Event("e-1", self.record("150.5"))))
        self.assertFalse(world.keep(Event("e-1", self.record(99))))
        with self.assertRaises(Err) as refused:
            world.keep(Event("e-1", self.record(-1)))
        self.assertEqual(refused.exception.value, self.types.Error_Invalid("a negative total"))
        with self.assertRaises(Err) as bad:
            world.keep(Event("e-2", "not json"))
        self.assertIsInstance(bad.exception.value, self.types.Error_Invalid)

    def test_a_consumer_of_one_message_answers_per_message(self):
        @sdk.consumer
        def handle(message):
            body = message.json()
            if body.get("fail") == "later":
                raise RuntimeError("down")
            if body.get("fail") == "wait":
                return sdk.Retry(30)

        world = WitWorld()  # noqa: F821
        messages = [Message("m-1", "{}", 1, []), Message("m-2", '{"fail": "later"}', 1, []),
                    Message("m-3", "nope", 1, []), Message("m-4", '{"fail": "wait"}', 2, [])]
        outcomes = world.handle(messages)
        self.assertEqual(outcomes[0], self.types.Outcome_Ok())
        self.assertEqual(outcomes[1], self.types.Outcome_Retry(None))
        self.assertIsInstance(outcomes[2], self.types.Outcome_DeadLetter)
        self.assertEqual(outcomes[3], self.types.Outcome_Retry(30))

    def test_a_lambda_handler_gets_lambdas_sqs_event_and_its_batch_item_failures_are_retried(self):
        seen = []

        def lambda_handler(event, context):
            seen.append((event, context.function_name, context.get_remaining_time_in_millis()))
            logging.info(event["Records"][0]["body"])
            print("printed")
            return {"batchItemFailures": [{"itemIdentifier": "m-2"}]}

        sdk.lambda_sqs(lambda_handler)
        world = WitWorld()  # noqa: F821
        outcomes = world.handle([Message("m-1", '{"a": 1}', 1, [("SentTimestamp", "1700000000000")]),
                                 Message("m-2", "x", 3, [("MessageGroupId", "g")])])
        self.assertEqual(outcomes, [self.types.Outcome_Ok(), self.types.Outcome_Retry(None)])
        event, name, remaining = seen[0]
        first, second = event["Records"]
        self.assertEqual(first["messageId"], "m-1")
        self.assertEqual(first["md5OfBody"], hashlib.md5(b"{\"a\": 1}").hexdigest())
        self.assertEqual(first["eventSource"], "aws:sqs")
        self.assertEqual(first["eventSourceARN"], "arn:aws:sqs:eu-west-1:000000000000:orders")
        self.assertEqual(first["awsRegion"], "eu-west-1")
        self.assertEqual(first["attributes"]["SentTimestamp"], "1700000000000")
        self.assertEqual(second["attributes"]["ApproximateReceiveCount"], "3")
        self.assertEqual(second["attributes"]["MessageGroupId"], "g")
        self.assertEqual(name, "switchyard-plugin")
        self.assertGreater(remaining, 0)
        self.assertIn(("info", '{"a": 1}', []), self.logged)
        self.assertIn(("info", "printed", []), self.logged)

    def test_without_report_batch_item_failures_a_returned_list_is_ignored(self):
        self.settings["report_batch_item_failures"] = "false"
        sdk.lambda_sqs(lambda event, context: {"batchItemFailures": [{"itemIdentifier": "m-2"}]})
        world = WitWorld()  # noqa: F821
        outcomes = world.handle([Message("m-1", "a", 1, []), Message("m-2", "b", 1, [])])
        self.assertEqual(outcomes, [self.types.Outcome_Ok(), self.types.Outcome_Ok()])

    def test_a_lambda_handler_that_raises_fails_the_batch(self):
        def lambda_handler(event, context):
            raise KeyError("Records")

        sdk.lambda_sqs(lambda_handler)
        with self.assertRaises(Err) as failed:
            WitWorld().handle([Message("m-1", "{}", 1, [])])  # noqa: F821
        self.assertEqual(failed.exception.value, self.types.Error_Failed("KeyError: 'Records'"))


if __name__ == "__main__":
    unittest.main()
