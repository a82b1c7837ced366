import json
import logging
import os
import sys

calls = 0  # survives warm invocations
logger = logging.getLogger()
logger.setLevel(logging.INFO)


class Boom(Exception):
    pass


def handler(event, context):
    global calls
    calls += 1
    action = event.get("action")
    if action == "raise":
        raise Boom("it went wrong: " + event.get("why", ""))
    if action == "log":
        print("printed line")
        print("two\nlines")
        logger.info("info from logging %s", 42)
        logging.getLogger("child").warning("warned")
        logger.debug("not shown")
        sys.stderr.write("to stderr\n")
        return {"logged": True}
    if action == "sleep":
        import time
        time.sleep(event.get("seconds", 1))
        return {"slept": True}
    if action == "layer":
        import kumo_layer_helper
        return {"from_layer": kumo_layer_helper.GREETING}
    if action == "unmarshalable":
        return {"set": {1, 2}}
    cc = context.client_context
    return {
        "event": event,
        "calls": calls,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "identity_id": context.identity.cognito_identity_id,
        "client_custom": cc.custom if cc else None,
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
        "cwd": os.getcwd(),
        "sys_path_head": sys.path[:3],
        "python": "%d.%d" % sys.version_info[:2],
        "unicode": "雲",
        "handler_env": os.environ.get("_HANDLER"),
    }


def plain(event, context):
    return "just a string"
