package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;

/** Fails in its constructor: an init error. */
public class BrokenInit implements RequestHandler<Object, Object> {
    public BrokenInit() {
        throw new IllegalStateException("failed during init");
    }

    @Override
    public Object handleRequest(Object input, Context context) {
        return input;
    }
}
