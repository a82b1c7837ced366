package kumo.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A small JSON parser, writer and reflection-based mapper between JSON
 * and Java values: Map, List, String, numbers, booleans, enums, arrays and
 * POJOs (setters or fields in, getters or public fields out, property names
 * matched without regard to case).
 */
final class Json {
    private Json() {
    }

    /** A value that cannot be mapped. */
    static final class MappingException extends RuntimeException {
        MappingException(String msg) {
            super(msg);
        }
    }

    // --- Parsing -------------------------------------------------------

    static Object parse(String s) {
        Parser p = new Parser(s);
        p.ws();
        Object v = p.value();
        p.ws();
        if (p.i != s.length()) {
            throw p.err("trailing characters");
        }
        return v;
    }

    private static final class Parser {
        final String s;
        int i;

        Parser(String s) {
            this.s = s;
        }

        MappingException err(String what) {
            return new MappingException("Invalid JSON at offset " + i + ": " + what);
        }

        void ws() {
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                    break;
                }
                i++;
            }
        }

        Object value() {
            if (i >= s.length()) {
                throw err("unexpected end");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{': {
                    i++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    ws();
                    if (peek('}')) {
                        i++;
                        return m;
                    }
                    while (true) {
                        ws();
                        if (!peek('"')) {
                            throw err("expected a string");
                        }
                        String k = string();
                        ws();
                        expect(':');
                        ws();
                        m.put(k, value());
                        ws();
                        if (peek(',')) {
                            i++;
                            continue;
                        }
                        expect('}');
                        return m;
                    }
                }
                case '[': {
                    i++;
                    List<Object> l = new ArrayList<>();
                    ws();
                    if (peek(']')) {
                        i++;
                        return l;
                    }
                    while (true) {
                        ws();
                        l.add(value());
                        ws();
                        if (peek(',')) {
                            i++;
                            continue;
                        }
                        expect(']');
                        return l;
                    }
                }
                case '"':
                    return string();
                case 't':
                    word("true");
                    return Boolean.TRUE;
                case 'f':
                    word("false");
                    return Boolean.FALSE;
                case 'n':
                    word("null");
                    return null;
                default:
                    return number();
            }
        }

        boolean peek(char c) {
            return i < s.length() && s.charAt(i) == c;
        }

        void expect(char c) {
            if (!peek(c)) {
                throw err("expected '" + c + "'");
            }
            i++;
        }

        void word(String w) {
            if (!s.startsWith(w, i)) {
                throw err("unexpected character");
            }
            i += w.length();
        }

        String string() {
            i++;
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw err("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (i >= s.length()) {
                    throw err("unterminated string");
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'n': b.append('\n'); break;
                    case 'r': b.append('\r'); break;
                    case 't': b.append('\t'); break;
                    case 'u':
                        if (i + 4 > s.length()) {
                            throw err("bad escape");
                        }
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                        break;
                    default: b.append(e);
                }
            }
        }

        Object number() {
            int start = i;
            boolean frac = false;
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c >= '0' && c <= '9' || c == '-' || c == '+') {
                    i++;
                } else if (c == '.' || c == 'e' || c == 'E') {
                    frac = true;
                    i++;
                } else {
                    break;
                }
            }
            String n = s.substring(start, i);
            if (n.isEmpty()) {
                throw err("unexpected character");
            }
            try {
                if (frac) {
                    return Double.valueOf(n);
                }
                BigInteger v = new BigInteger(n);
                if (v.bitLength() < 32) {
                    return v.intValue();
                }
                if (v.bitLength() < 64) {
                    return v.longValue();
                }
                return v;
            } catch (NumberFormatException e) {
                throw err("bad number " + n);
            }
        }
    }

    // --- Writing -------------------------------------------------------

    static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, int depth) {
        if (depth > 200) {
            throw new MappingException("value nested too deeply (a cycle?)");
        }
        if (v == null) {
            b.append("null");
        } else if (v instanceof String || v instanceof Character || v instanceof Enum) {
            quote(b, v.toString());
        } else if (v instanceof Boolean) {
            b.append(v);
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                quote(b, v.toString());
            } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
                b.append((long) d).append(".0");
            } else {
                b.append(v);
            }
        } else if (v instanceof BigDecimal) {
            b.append(((BigDecimal) v).toPlainString());
        } else if (v instanceof Number) {
            b.append(v);
        } else if (v instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                quote(b, String.valueOf(e.getKey()));
                b.append(':');
                write(b, e.getValue(), depth + 1);
            }
            b.append('}');
        } else if (v instanceof Collection) {
            b.append('[');
            boolean first = true;
            for (Object o : (Collection<?>) v) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                write(b, o, depth + 1);
            }
            b.append(']');
        } else if (v.getClass().isArray()) {
            if (v instanceof byte[]) {
                quote(b, java.util.Base64.getEncoder().encodeToString((byte[]) v));
                return;
            }
            b.append('[');
            for (int i = 0, n = Array.getLength(v); i < n; i++) {
                if (i > 0) {
                    b.append(',');
                }
                write(b, Array.get(v, i), depth + 1);
            }
            b.append(']');
        } else {
            write(b, properties(v), depth + 1);
        }
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                case '\b': b.append("\\b"); break;
                case '\f': b.append("\\f"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        b.append('"');
    }

    /** The properties of a POJO: its getters, then its public fields. */
    private static Map<String, Object> properties(Object o) {
        Map<String, Object> out = new LinkedHashMap<>();
        Class<?> c = o.getClass();
        for (Method m : c.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0 || m.getDeclaringClass() == Object.class) {
                continue;
            }
            String n = m.getName();
            String prop;
            if (n.startsWith("get") && n.length() > 3 && m.getReturnType() != void.class) {
                prop = n.substring(3);
            } else if (n.startsWith("is") && n.length() > 2 && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
                prop = n.substring(2);
            } else {
                continue;
            }
            prop = Character.toLowerCase(prop.charAt(0)) + prop.substring(1);
            try {
                m.setAccessible(true);
                out.put(prop, m.invoke(o));
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new MappingException("reading property " + prop + " of " + c.getName() + ": " + e);
            }
        }
        for (Field f : c.getFields()) {
            if (!Modifier.isStatic(f.getModifiers()) && !out.containsKey(f.getName())) {
                try {
                    out.put(f.getName(), f.get(o));
                } catch (IllegalAccessException e) {
                    throw new MappingException("reading field " + f.getName() + " of " + c.getName() + ": " + e);
                }
            }
        }
        return out;
    }

    // --- Mapping JSON values to Java types --------------------------------

    static Object convert(Object v, Type t) {
        Class<?> raw = rawClass(t);
        if (v == null) {
            if (raw.isPrimitive()) {
                return raw == boolean.class ? Boolean.FALSE : convert(0, t);
            }
            return null;
        }
        if (raw == Object.class) {
            return v;
        }
        if (raw == String.class) {
            if (v instanceof Map || v instanceof List) {
                throw new MappingException("cannot map a JSON " + (v instanceof Map ? "object" : "array") + " to java.lang.String");
            }
            return v.toString();
        }
        if (raw == boolean.class || raw == Boolean.class) {
            if (v instanceof Boolean) {
                return v;
            }
            if (v instanceof String) {
                return Boolean.valueOf((String) v);
            }
            throw new MappingException("cannot map " + Json.write(v) + " to boolean");
        }
        if (raw == char.class || raw == Character.class) {
            String s = v.toString();
            if (s.length() != 1) {
                throw new MappingException("cannot map " + Json.write(v) + " to char");
            }
            return s.charAt(0);
        }
        if (raw.isPrimitive() || Number.class.isAssignableFrom(raw)) {
            return number(v, raw);
        }
        if (raw.isEnum()) {
            for (Object c : raw.getEnumConstants()) {
                if (((Enum<?>) c).name().equalsIgnoreCase(v.toString())) {
                    return c;
                }
            }
            throw new MappingException("no constant " + v + " in " + raw.getName());
        }
        if (raw.isArray()) {
            if (raw == byte[].class && v instanceof String) {
                return java.util.Base64.getDecoder().decode((String) v);
            }
            List<?> l = asList(v, raw);
            Object a = Array.newInstance(raw.getComponentType(), l.size());
            Type et = t instanceof GenericArrayType ? ((GenericArrayType) t).getGenericComponentType() : raw.getComponentType();
            for (int i = 0; i < l.size(); i++) {
                Array.set(a, i, convert(l.get(i), et));
            }
            return a;
        }
        if (Collection.class.isAssignableFrom(raw)) {
            List<?> l = asList(v, raw);
            Type et = typeArg(t, 0);
            Collection<Object> out = Set.class.isAssignableFrom(raw) ? new HashSet<>() : new ArrayList<>();
            if (!raw.isInterface() && !Modifier.isAbstract(raw.getModifiers())) {
                out = newInstance(raw);
            }
            for (Object o : l) {
                out.add(convert(o, et));
            }
            return out;
        }
        if (Map.class.isAssignableFrom(raw)) {
            if (!(v instanceof Map)) {
                throw new MappingException("cannot map " + Json.write(v) + " to " + raw.getName());
            }
            Type vt = typeArg(t, 1);
            Map<Object, Object> out = raw.isInterface() || Modifier.isAbstract(raw.getModifiers()) ? new LinkedHashMap<>() : newInstance(raw);
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                out.put(e.getKey(), convert(e.getValue(), vt));
            }
            return out;
        }
        if (raw.isInstance(v)) {
            return v;
        }
        if (!(v instanceof Map)) {
            throw new MappingException("cannot map " + Json.write(v) + " to " + raw.getName());
        }
        return pojo((Map<?, ?>) v, raw);
    }

    private static List<?> asList(Object v, Class<?> raw) {
        if (!(v instanceof List)) {
            throw new MappingException("cannot map " + Json.write(v) + " to " + raw.getName());
        }
        return (List<?>) v;
    }

    private static Object number(Object v, Class<?> raw) {
        BigDecimal d;
        try {
            d = v instanceof Number ? new BigDecimal(v.toString()) : new BigDecimal(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new MappingException("cannot map " + Json.write(v) + " to " + raw.getName());
        }
        if (raw == int.class || raw == Integer.class) {
            return d.intValue();
        } else if (raw == long.class || raw == Long.class) {
            return d.longValue();
        } else if (raw == double.class || raw == Double.class) {
            return d.doubleValue();
        } else if (raw == float.class || raw == Float.class) {
            return d.floatValue();
        } else if (raw == short.class || raw == Short.class) {
            return d.shortValue();
        } else if (raw == byte.class || raw == Byte.class) {
            return d.byteValue();
        } else if (raw == BigInteger.class) {
            return d.toBigInteger();
        } else if (raw == BigDecimal.class) {
            return d;
        }
        return v instanceof Number ? v : d;
    }

    @SuppressWarnings("unchecked")
    private static <T> T newInstance(Class<?> c) {
        try {
            java.lang.reflect.Constructor<?> k = c.getDeclaredConstructor();
            k.setAccessible(true);
            return (T) k.newInstance();
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new MappingException("cannot create " + c.getName() + ": it needs a constructor without parameters (" + e + ")");
        }
    }

    /** Fills a new instance of c from a JSON object: setters, then fields. */
    private static Object pojo(Map<?, ?> m, Class<?> c) {
        Object o = newInstance(c);
        Map<String, Method> setters = new HashMap<>();
        for (Method s : c.getMethods()) {
            if (s.getName().startsWith("set") && s.getName().length() > 3 && s.getParameterCount() == 1 && !Modifier.isStatic(s.getModifiers())) {
                setters.putIfAbsent(s.getName().substring(3).toLowerCase(Locale.ROOT), s);
            }
        }
        Map<String, Field> fields = new HashMap<>();
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            for (Field f : k.getDeclaredFields()) {
                if (!Modifier.isStatic(f.getModifiers()) && !Modifier.isFinal(f.getModifiers())) {
                    fields.putIfAbsent(f.getName().toLowerCase(Locale.ROOT), f);
                }
            }
        }
        for (Map.Entry<?, ?> e : m.entrySet()) {
            String k = String.valueOf(e.getKey()).toLowerCase(Locale.ROOT);
            try {
                Method s = setters.get(k);
                if (s != null) {
                    s.setAccessible(true);
                    s.invoke(o, convert(e.getValue(), s.getGenericParameterTypes()[0]));
                    continue;
                }
                Field f = fields.get(k);
                if (f != null) {
                    f.setAccessible(true);
                    f.set(o, convert(e.getValue(), f.getGenericType()));
                }
            } catch (ReflectiveOperationException | RuntimeException ex) {
                Throwable cause = ex instanceof java.lang.reflect.InvocationTargetException ? ex.getCause() : ex;
                throw new MappingException("setting property " + e.getKey() + " of " + c.getName() + ": " + cause);
            }
        }
        return o;
    }

    static Class<?> rawClass(Type t) {
        if (t instanceof Class) {
            return (Class<?>) t;
        }
        if (t instanceof ParameterizedType) {
            return rawClass(((ParameterizedType) t).getRawType());
        }
        if (t instanceof GenericArrayType) {
            return Array.newInstance(rawClass(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
        }
        return Object.class; // type variables and wildcards
    }

    private static Type typeArg(Type t, int i) {
        if (t instanceof ParameterizedType) {
            Type[] args = ((ParameterizedType) t).getActualTypeArguments();
            if (i < args.length) {
                return args[i];
            }
        }
        return Object.class;
    }
}
