package example.lib;

/** Packed into lib/greeter.jar: the runtime loads the zip's lib/*.jar. */
public final class Greeter {
    private Greeter() {
    }

    public static String greet(String who) {
        return "hello, " + who;
    }
}
