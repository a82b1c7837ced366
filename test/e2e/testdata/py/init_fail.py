raise RuntimeError("failed during init")


def handler(event, context):
    return 1
