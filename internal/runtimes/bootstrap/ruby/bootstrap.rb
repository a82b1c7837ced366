# Kumo's Ruby runtime: the Lambda Runtime API loop for Ruby handlers
# (handler(event:, context:)), with the standard library only.
require 'json'
require 'net/http'

$stdout.sync = true
$stderr.sync = true

module KumoRuntime
  BASE = '/2018-06-01/runtime/'

  # The context of one invocation, as Lambda's Ruby runtime gives it.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name, :function_name,
                :memory_limit_in_mb, :function_version, :identity, :client_context, :deadline_ms, :tenant_id

    def initialize(request_id, deadline_ms, arn, identity, client_context)
      @aws_request_id = request_id
      @deadline_ms = deadline_ms
      @invoked_function_arn = arn
      @identity = identity
      @client_context = client_context
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
      @tenant_id = nil
    end

    def get_remaining_time_in_millis
      [@deadline_ms - (Process.clock_gettime(Process::CLOCK_REALTIME) * 1000).to_i, 0].max
    end
  end

  # A failure of the runtime's own, with Lambda's error type.
  class Fault < StandardError
    attr_reader :type

    def initialize(type, msg)
      super(msg)
      @type = type
    end
  end

  module_function

  def api
    @api ||= begin
      host, _, port = ENV.fetch('AWS_LAMBDA_RUNTIME_API').rpartition(':')
      http = Net::HTTP.new(host.delete('[]'), port.to_i)
      http.read_timeout = nil
      http.keep_alive_timeout = 3600
      http.start
    end
  end

  def post(path, body, error_type = nil)
    headers = { 'Content-Type' => 'application/json' }
    headers['Lambda-Runtime-Function-Error-Type'] = error_type if error_type
    res = api.post(BASE + path, body, headers)
    code = res.code.to_i
    log_line("[ERROR] Runtime API answered #{code} to POST #{path}: #{res.body}") if code >= 300 && code != 413
  rescue SystemCallError, IOError, EOFError
    exit(0) # the platform retires the sandbox
  end

  # One call, one log line: embedded newlines become carriage returns.
  def log_line(msg)
    $stdout.write(msg.to_s.chomp.gsub("\n", "\r") + "\n")
  end

  def error(exc, prefix)
    {
      'errorMessage' => message(exc),
      'errorType' => exc.is_a?(Fault) ? exc.type : "#{prefix}<#{exc.class}>",
      'stackTrace' => function_frames(exc.backtrace || [])
    }
  end

  # The exception's message without the snippet error_highlight adds.
  def message(exc)
    exc.respond_to?(:original_message) ? exc.original_message : exc.message
  end

  # The frames of the function, not the runtime's.
  def function_frames(trace)
    out = trace.take_while { |f| !f.start_with?(__FILE__) }
    out.empty? ? trace.reject { |f| f.start_with?(__FILE__) } : out
  end

  def log_error(err, what)
    log_line("#{what}\n#{JSON.pretty_generate(err)}")
  end

  # Loads the handler: "file.method" or "file.Module::Class.method".
  def load_handler(spec)
    file, _, path = spec.partition('.')
    raise Fault.new('Init<ArgumentError>', "Invalid handler #{spec}: want file.method") if file.empty? || path.empty?

    task = ENV['LAMBDA_TASK_ROOT'] || '/var/task'
    begin
      require File.join(task, file)
    rescue LoadError => e
      raise e unless e.path.nil? || e.path == File.join(task, file)

      raise Fault.new('Init<LoadError>', message(e))
    end
    if path.include?('.')
      const, _, meth = path.rpartition('.')
      begin
        target = Object.const_get(const)
      rescue NameError => e
        raise Fault.new('Init<NameError>', message(e))
      end
    else
      target = nil
      meth = path
    end
    [target, meth]
  end

  def json_header(value)
    value.nil? || value.empty? ? nil : JSON.parse(value)
  rescue JSON::ParserError
    nil
  end

  def main
    Dir.chdir(ENV['LAMBDA_TASK_ROOT'] || '/var/task')
    begin
      target, meth = load_handler(ENV['_HANDLER'].to_s)
    rescue Exception => e # rubocop:disable Lint/RescueException
      raise if e.is_a?(SystemExit)

      err = error(e, 'Init')
      log_error(err, 'Init error when loading handler')
      post('init/error', JSON.generate(err), err['errorType'])
      exit(1)
    end

    loop do
      begin
        res = api.get(BASE + 'invocation/next')
      rescue SystemCallError, IOError, EOFError
        exit(0)
      end
      rid = res['Lambda-Runtime-Aws-Request-Id']
      trace = res['Lambda-Runtime-Trace-Id']
      trace ? ENV['_X_AMZN_TRACE_ID'] = trace : ENV.delete('_X_AMZN_TRACE_ID')
      ctx = LambdaContext.new(rid, res['Lambda-Runtime-Deadline-Ms'].to_i, res['Lambda-Runtime-Invoked-Function-Arn'],
                              json_header(res['Lambda-Runtime-Cognito-Identity']),
                              json_header(res['Lambda-Runtime-Client-Context']))
      begin
        body = res.body.to_s
        event = body.empty? ? nil : JSON.parse(body, quirks_mode: true)
        result = target ? target.__send__(meth, event: event, context: ctx) : Object.new.__send__(meth, event: event, context: ctx)
        out = JSON.generate(result, quirks_mode: true)
      rescue Exception => e # rubocop:disable Lint/RescueException
        raise if e.is_a?(SystemExit)

        err = error(e, 'Function')
        log_error(err, 'Error raised from handler method')
        post("invocation/#{rid}/error", JSON.generate(err), err['errorType'])
        next
      end
      post("invocation/#{rid}/response", out)
    end
  end
end

KumoRuntime.main
