package example;

import com.amazonaws.services.lambda.runtime.Context;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** POJO events and results, a static method and a stream method. */
public class Orders {
    public static class Item {
        private String sku;
        private int quantity;

        public String getSku() {
            return sku;
        }

        public void setSku(String sku) {
            this.sku = sku;
        }

        public int getQuantity() {
            return quantity;
        }

        public void setQuantity(int quantity) {
            this.quantity = quantity;
        }
    }

    public static class Order {
        public String id;
        public List<Item> items;
        public boolean express;
    }

    public static class Receipt {
        private final String orderId;
        private final int total;
        private final boolean express;

        Receipt(String orderId, int total, boolean express) {
            this.orderId = orderId;
            this.total = total;
            this.express = express;
        }

        public String getOrderId() {
            return orderId;
        }

        public int getTotal() {
            return total;
        }

        public boolean isExpress() {
            return express;
        }
    }

    public Receipt place(Order order, Context context) {
        int total = 0;
        for (Item i : order.items) {
            total += i.getQuantity();
        }
        return new Receipt(order.id, total, order.express);
    }

    public static String shout(String s) {
        return s.toUpperCase();
    }

    public void raw(InputStream in, OutputStream out, Context context) throws IOException {
        byte[] b = in.readAllBytes();
        out.write(("{\"bytes\":" + b.length + ",\"id\":\"" + context.getAwsRequestId() + "\"}").getBytes(StandardCharsets.UTF_8));
    }
}
