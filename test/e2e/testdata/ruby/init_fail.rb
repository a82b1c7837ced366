raise ArgumentError, 'failed during init'
