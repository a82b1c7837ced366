require 'json'

$calls = 0 # survives warm invocations

class Boom < StandardError; end

def handler(event:, context:)
  $calls += 1
  case event['action']
  when 'raise'
    raise Boom, "it went wrong: #{event['why']}"
  when 'log'
    puts 'printed line'
    $stderr.puts 'to stderr'
    return { 'logged' => true }
  end
  {
    'event' => event,
    'calls' => $calls,
    'function_name' => context.function_name,
    'function_version' => context.function_version,
    'invoked_function_arn' => context.invoked_function_arn,
    'memory_limit_in_mb' => context.memory_limit_in_mb,
    'aws_request_id' => context.aws_request_id,
    'log_group_name' => context.log_group_name,
    'log_stream_name' => context.log_stream_name,
    'remaining_ms' => context.get_remaining_time_in_millis,
    'client_custom' => context.client_context && context.client_context['custom'],
    'execution_env' => ENV['AWS_EXECUTION_ENV'],
    'handler_env' => ENV['_HANDLER'],
    'ruby' => RUBY_VERSION
  }
end

module Shop
  class Orders
    def self.total(event:, context:)
      { 'total' => event['items'].sum { |i| i['quantity'] }, 'id' => context.aws_request_id }
    end
  end
end
