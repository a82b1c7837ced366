package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import example.lib.Greeter;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A RequestHandler of maps: echo, errors, logs and the context. */
public class Hello implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    private int calls; // survives warm invocations

    public static class BoomException extends RuntimeException {
        public BoomException(String msg, Throwable cause) {
            super(msg, cause);
        }
    }

    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        calls++;
        Object action = event.get("action");
        if ("raise".equals(action)) {
            fail(String.valueOf(event.get("why")));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        if ("log".equals(action)) {
            LambdaLogger log = context.getLogger();
            log.log("logged through the LambdaLogger");
            log.log("two\nlines", com.amazonaws.services.lambda.runtime.logging.LogLevel.INFO);
            System.out.println("printed line");
            System.err.println("to stderr");
            out.put("logged", true);
            return out;
        }
        out.put("event", event);
        out.put("calls", calls);
        out.put("greeting", Greeter.greet("java"));
        out.put("function_name", context.getFunctionName());
        out.put("function_version", context.getFunctionVersion());
        out.put("invoked_function_arn", context.getInvokedFunctionArn());
        out.put("memory_limit_in_mb", context.getMemoryLimitInMB());
        out.put("aws_request_id", context.getAwsRequestId());
        out.put("log_group_name", context.getLogGroupName());
        out.put("log_stream_name", context.getLogStreamName());
        out.put("remaining_ms", context.getRemainingTimeInMillis());
        out.put("client_custom", context.getClientContext() == null ? null : context.getClientContext().getCustom());
        out.put("execution_env", System.getenv("AWS_EXECUTION_ENV"));
        out.put("handler_env", System.getenv("_HANDLER"));
        out.put("max_heap_mb", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        out.put("list_type", event.get("n") instanceof List ? "list" : String.valueOf(event.get("n")));
        return out;
    }

    private static void fail(String why) {
        throw new BoomException("it went wrong: " + why, new IllegalStateException("the cause"));
    }
}
