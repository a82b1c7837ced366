package kumo.runtime;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Kumo's Java runtime: the Lambda Runtime API loop for handlers written
 * against aws-lambda-java-core's RequestHandler and RequestStreamHandler,
 * or any public method taking an event (and a Context). The JDK's own
 * classes only.
 */
public final class Main {
    private static final String BASE = "/2018-06-01/runtime/";
    private static Api api;

    private Main() {
    }

    /** A failure the runtime reports with a type of its own. */
    static final class Fault extends Exception {
        final String type;

        Fault(String type, String msg) {
            super(msg);
            this.type = type;
        }
    }

    /** How to call the handler. */
    private static final class Handler {
        Object target; // null for a static method
        Method method;
        Type input; // null without an event parameter
        boolean stream; // (InputStream, OutputStream[, Context])
        boolean context; // takes a Context last
    }

    public static void main(String[] args) throws Exception {
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
        api = new Api(System.getenv("AWS_LAMBDA_RUNTIME_API"));
        String task = env("LAMBDA_TASK_ROOT", "/var/task");
        String spec = env("_HANDLER", "");

        Handler h;
        try {
            ClassLoader loader = functionLoader(task);
            Thread.currentThread().setContextClassLoader(loader);
            h = load(spec, loader);
        } catch (Fault f) {
            initError(error(f.getMessage(), f.type, new ArrayList<>()));
            return;
        } catch (Throwable t) {
            initError(error(t));
            return;
        }

        while (true) {
            Api.Response c;
            try {
                c = api.request("GET", BASE + "invocation/next", null);
            } catch (IOException e) {
                // The platform retires the sandbox.
                System.exit(0);
                return;
            }
            if (c.status != 200) {
                throw new IllegalStateException("runtime api answered " + c.status + " to /next");
            }
            byte[] body = c.body;
            String rid = c.header("Lambda-Runtime-Aws-Request-Id");
            String trace = c.header("Lambda-Runtime-Trace-Id");
            if (trace != null) {
                System.setProperty("com.amazonaws.xray.traceHeader", trace);
            } else {
                System.clearProperty("com.amazonaws.xray.traceHeader");
            }
            long deadline = 0;
            try {
                deadline = Long.parseLong(c.header("Lambda-Runtime-Deadline-Ms"));
            } catch (RuntimeException e) {
                // no deadline
            }
            Ctx ctx = new Ctx(rid, deadline, c.header("Lambda-Runtime-Invoked-Function-Arn"), trace,
                    c.header("Lambda-Runtime-Client-Context"), c.header("Lambda-Runtime-Cognito-Identity"));
            byte[] out;
            Map<String, Object> err = null;
            try {
                out = invoke(h, body, ctx);
            } catch (Fault f) {
                out = null;
                err = error(f.getMessage(), f.type, new ArrayList<>());
            } catch (Throwable t) {
                out = null;
                err = error(t);
            }
            body = null;
            System.out.flush();
            System.err.flush();
            if (err != null) {
                logError(err);
                post("invocation/" + rid + "/error", Json.write(err).getBytes(StandardCharsets.UTF_8), (String) err.get("errorType"));
            } else {
                post("invocation/" + rid + "/response", out, null);
            }
        }
    }

    private static String env(String k, String def) {
        String v = System.getenv(k);
        return v == null || v.isEmpty() ? def : v;
    }

    // --- Loading the function -------------------------------------------

    /** The function's class path as Lambda's: the code's root, its lib/*.jar, the layers' java/lib/*.jar. */
    private static ClassLoader functionLoader(String task) throws IOException {
        List<URL> urls = new ArrayList<>();
        urls.add(new File(task).toURI().toURL());
        for (String dir : new String[] {task + "/lib", "/opt/java/lib"}) {
            File[] jars = new File(dir).listFiles((d, n) -> n.endsWith(".jar"));
            if (jars != null) {
                Arrays.sort(jars);
                for (File j : jars) {
                    urls.add(j.toURI().toURL());
                }
            }
        }
        File opt = new File("/opt/java");
        if (opt.isDirectory()) {
            urls.add(opt.toURI().toURL());
        }
        return new URLClassLoader(urls.toArray(new URL[0]), Main.class.getClassLoader());
    }

    private static Handler load(String spec, ClassLoader loader) throws Throwable {
        String cls = spec;
        String name = null;
        int i = spec.indexOf("::");
        if (i >= 0) {
            cls = spec.substring(0, i);
            name = spec.substring(i + 2);
        }
        if (cls.isEmpty() || name != null && name.isEmpty()) {
            throw new Fault("java.lang.IllegalArgumentException", "Invalid handler: " + spec);
        }
        Class<?> c;
        try {
            c = Class.forName(cls, true, loader);
        } catch (ClassNotFoundException | NoClassDefFoundError e) {
            throw new Fault("java.lang.ClassNotFoundException", "Class not found: " + cls);
        } catch (ExceptionInInitializerError e) {
            throw e.getCause() != null ? e.getCause() : e;
        }
        Handler h = new Handler();
        if ((name == null || name.equals("handleRequest")) && RequestStreamHandler.class.isAssignableFrom(c)) {
            h.method = RequestStreamHandler.class.getMethod("handleRequest", InputStream.class, OutputStream.class, Context.class);
            h.stream = true;
            h.context = true;
        } else if ((name == null || name.equals("handleRequest")) && RequestHandler.class.isAssignableFrom(c)) {
            h.method = RequestHandler.class.getMethod("handleRequest", Object.class, Context.class);
            h.input = requestType(c);
            h.context = true;
        } else {
            if (name == null) {
                throw new Fault("java.lang.NoSuchMethodException", "Class " + cls
                        + " does not implement RequestHandler with concrete type parameters or RequestStreamHandler, and the handler names no method");
            }
            pick(h, c, name);
        }
        if (!Modifier.isStatic(h.method.getModifiers())) {
            try {
                java.lang.reflect.Constructor<?> k = c.getDeclaredConstructor();
                k.setAccessible(true);
                h.target = k.newInstance();
            } catch (NoSuchMethodException e) {
                throw new Fault("java.lang.NoSuchMethodException", "Class " + cls + " has no public zero-argument constructor");
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }
        h.method.setAccessible(true);
        return h;
    }

    /** The event type of a RequestHandler: its first type argument, resolved through superclasses. */
    private static Type requestType(Class<?> c) {
        Map<TypeVariable<?>, Type> bound = new LinkedHashMap<>();
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            List<Type> sups = new ArrayList<>(Arrays.asList(k.getGenericInterfaces()));
            sups.add(k.getGenericSuperclass());
            for (Type t : sups) {
                if (!(t instanceof ParameterizedType)) {
                    continue;
                }
                ParameterizedType p = (ParameterizedType) t;
                Class<?> raw = (Class<?>) p.getRawType();
                TypeVariable<?>[] vars = raw.getTypeParameters();
                Type[] args = p.getActualTypeArguments();
                for (int i = 0; i < vars.length && i < args.length; i++) {
                    Type a = args[i];
                    while (a instanceof TypeVariable && bound.containsKey(a)) {
                        a = bound.get(a);
                    }
                    bound.put(vars[i], a);
                }
            }
        }
        Type in = RequestHandler.class.getTypeParameters()[0];
        Type t = bound.getOrDefault(in, Object.class);
        while (t instanceof TypeVariable && bound.containsKey(t)) {
            t = bound.get(t);
        }
        return t instanceof TypeVariable ? Object.class : t;
    }

    /** Picks the public method name of c Lambda would call: most parameters first, a Context last. */
    private static void pick(Handler h, Class<?> c, String name) throws Fault {
        Method best = null;
        for (Method m : c.getMethods()) {
            if (!m.getName().equals(name) || m.isBridge() || m.isSynthetic()) {
                continue;
            }
            if (shape(m) == null) {
                continue;
            }
            if (best == null || m.getParameterCount() > best.getParameterCount()) {
                best = m;
            }
        }
        if (best == null) {
            throw new Fault("java.lang.NoSuchMethodException",
                    "No public method named " + name + " with appropriate method signature found on class " + c.getName());
        }
        h.method = best;
        Class<?>[] p = best.getParameterTypes();
        int n = p.length;
        h.context = n > 0 && p[n - 1] == Context.class;
        int events = h.context ? n - 1 : n;
        if (events == 2) {
            h.stream = true;
        } else if (events == 1) {
            h.input = best.getGenericParameterTypes()[0];
        }
    }

    /** Whether m takes (), (E), (E, Context), (InputStream, OutputStream) or (InputStream, OutputStream, Context). */
    private static Object shape(Method m) {
        Class<?>[] p = m.getParameterTypes();
        int n = p.length;
        if (n > 0 && p[n - 1] == Context.class) {
            n--;
        }
        if (n == 0 || n == 1 && p[0] != Context.class) {
            return m;
        }
        if (n == 2 && p[0] == InputStream.class && p[1] == OutputStream.class) {
            return m;
        }
        return null;
    }

    // --- Invoking -------------------------------------------------------

    private static byte[] invoke(Handler h, byte[] body, Context ctx) throws Throwable {
        List<Object> args = new ArrayList<>();
        ByteArrayOutputStream out = null;
        if (h.stream) {
            out = new ByteArrayOutputStream();
            args.add(new ByteArrayInputStream(body));
            args.add(out);
        } else if (h.input != null) {
            Class<?> raw = Json.rawClass(h.input);
            if (raw == InputStream.class) {
                args.add(new ByteArrayInputStream(body));
            } else if (raw == byte[].class && body.length > 0 && body[0] != '"') {
                args.add(body);
            } else {
                Object event;
                try {
                    String s = new String(body, StandardCharsets.UTF_8);
                    event = Json.convert(s.isBlank() ? null : Json.parse(s), h.input);
                } catch (Json.MappingException e) {
                    throw new Fault("java.lang.RuntimeException", "An error occurred during JSON parsing: " + e.getMessage());
                }
                args.add(event);
            }
        }
        if (h.context) {
            args.add(ctx);
        }
        Object result;
        try {
            result = h.method.invoke(h.target, args.toArray());
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
        if (out != null) {
            return out.toByteArray();
        }
        if (h.method.getReturnType() == void.class) {
            return "null".getBytes(StandardCharsets.UTF_8);
        }
        if (result instanceof InputStream) {
            return ((InputStream) result).readAllBytes();
        }
        try {
            return Json.write(result).getBytes(StandardCharsets.UTF_8);
        } catch (Json.MappingException e) {
            throw new Fault("java.lang.RuntimeException", "An error occurred during JSON serialization of response: " + e.getMessage());
        }
    }

    // --- Errors ---------------------------------------------------------

    private static Map<String, Object> error(String msg, String type, List<String> trace) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("errorMessage", msg);
        m.put("errorType", type);
        m.put("stackTrace", trace);
        return m;
    }

    /** Lambda's Java error shape: the message, the class, the frames of the function (and its causes). */
    private static Map<String, Object> error(Throwable t) {
        Map<String, Object> m = error(t.getMessage(), t.getClass().getName(), frames(t));
        if (t.getMessage() == null) {
            m.remove("errorMessage");
        }
        if (t.getCause() != null && t.getCause() != t) {
            m.put("cause", error(t.getCause()));
        }
        m.put("__throwable", t);
        return m;
    }

    private static List<String> frames(Throwable t) {
        List<String> out = new ArrayList<>();
        for (StackTraceElement e : t.getStackTrace()) {
            String c = e.getClassName();
            if (c.startsWith("kumo.runtime.") || c.startsWith("jdk.internal.reflect.") || c.startsWith("java.lang.reflect.Method")) {
                break;
            }
            out.add(e.toString());
        }
        return out;
    }

    private static void logError(Map<String, Object> err) {
        Object t = err.remove("__throwable");
        dropThrowables(err);
        StringBuilder b = new StringBuilder();
        if (t instanceof Throwable) {
            Throwable x = (Throwable) t;
            b.append(x);
            for (Object f : (List<?>) err.get("stackTrace")) {
                b.append("\n\tat ").append(f);
            }
            for (Throwable c = x.getCause(); c != null && c != x; c = c.getCause()) {
                b.append("\nCaused by: ").append(c);
                for (String f : frames(c)) {
                    b.append("\n\tat ").append(f);
                }
            }
        } else {
            b.append(err.get("errorType")).append(": ").append(err.get("errorMessage"));
        }
        LambdaRuntime.getLogger().log(b.toString());
    }

    @SuppressWarnings("unchecked")
    private static void dropThrowables(Map<String, Object> err) {
        err.remove("__throwable");
        Object c = err.get("cause");
        if (c instanceof Map) {
            dropThrowables((Map<String, Object>) c);
        }
    }

    private static void initError(Map<String, Object> err) throws IOException {
        logError(err);
        post("init/error", Json.write(err).getBytes(StandardCharsets.UTF_8), (String) err.get("errorType"));
        System.exit(1);
    }

    // --- The Runtime API ---------------------------------------------------

    private static void post(String path, byte[] body, String errorType) {
        try {
            Api.Response r = errorType == null
                    ? api.request("POST", BASE + path, body, "Content-Type", "application/json")
                    : api.request("POST", BASE + path, body, "Content-Type", "application/json",
                            "Lambda-Runtime-Function-Error-Type", errorType);
            if (r.status >= 300 && r.status != 413) {
                LambdaRuntime.getLogger().log("[ERROR] Runtime API answered " + r.status + " to POST " + path + ": "
                        + new String(r.body, StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            // The Runtime API went away: the platform retires the sandbox.
            System.exit(0);
        }
    }

    // --- The context ----------------------------------------------------------

    private static final class Ctx implements Context {
        private final String requestId;
        private final long deadline;
        private final String arn;
        private final String trace;
        private final ClientContext clientContext;
        private final CognitoIdentity identity;

        Ctx(String requestId, long deadline, String arn, String trace, String clientContext, String identity) {
            this.requestId = requestId;
            this.deadline = deadline;
            this.arn = arn;
            this.trace = trace;
            this.clientContext = clientContext(clientContext);
            this.identity = identity(identity);
        }

        public String getAwsRequestId() {
            return requestId;
        }

        public String getLogGroupName() {
            return System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
        }

        public String getLogStreamName() {
            return System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
        }

        public String getFunctionName() {
            return System.getenv("AWS_LAMBDA_FUNCTION_NAME");
        }

        public String getFunctionVersion() {
            return System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
        }

        public String getInvokedFunctionArn() {
            return arn;
        }

        public CognitoIdentity getIdentity() {
            return identity;
        }

        public ClientContext getClientContext() {
            return clientContext;
        }

        public int getRemainingTimeInMillis() {
            return (int) Math.max(0, deadline - System.currentTimeMillis());
        }

        public int getMemoryLimitInMB() {
            try {
                return Integer.parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
            } catch (RuntimeException e) {
                return 128;
            }
        }

        public LambdaLogger getLogger() {
            return LambdaRuntime.getLogger();
        }

        public String getXrayTraceId() {
            return trace;
        }
    }

    private static Map<?, ?> jsonObject(String s) {
        if (s == null || s.isEmpty()) {
            return null;
        }
        try {
            Object o = Json.parse(s);
            return o instanceof Map ? (Map<?, ?>) o : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String str(Map<?, ?> m, String k) {
        Object v = m == null ? null : m.get(k);
        return v == null ? null : v.toString();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> strings(Object o) {
        if (!(o instanceof Map)) {
            return null;
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
            Object v = e.getValue();
            out.put(String.valueOf(e.getKey()), v == null ? null : v instanceof String ? (String) v : Json.write(v));
        }
        return out;
    }

    private static CognitoIdentity identity(String header) {
        Map<?, ?> m = jsonObject(header);
        String id = str(m, "cognitoIdentityId");
        String pool = str(m, "cognitoIdentityPoolId");
        return new CognitoIdentity() {
            public String getIdentityId() {
                return id;
            }

            public String getIdentityPoolId() {
                return pool;
            }
        };
    }

    private static ClientContext clientContext(String header) {
        Map<?, ?> m = jsonObject(header);
        if (m == null) {
            return null;
        }
        Map<String, String> custom = strings(m.get("custom"));
        Map<String, String> env = strings(m.get("env"));
        Map<?, ?> cm = m.get("client") instanceof Map ? (Map<?, ?>) m.get("client") : null;
        Client client = cm == null ? null : new Client() {
            public String getInstallationId() {
                return str(cm, "installation_id");
            }

            public String getAppTitle() {
                return str(cm, "app_title");
            }

            public String getAppVersionName() {
                return str(cm, "app_version_name");
            }

            public String getAppVersionCode() {
                return str(cm, "app_version_code");
            }

            public String getAppPackageName() {
                return str(cm, "app_package_name");
            }
        };
        return new ClientContext() {
            public Client getClient() {
                return client;
            }

            public Map<String, String> getCustom() {
                return custom;
            }

            public Map<String, String> getEnvironment() {
                return env;
            }
        };
    }
}
